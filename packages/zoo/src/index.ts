// @llmdbg/zoo — the demonstration models llmdbg trains itself: their data generators, recipes and checks.
// Platform-neutral; node.ts adds what needs the file system.

export {
  argmax,
  type BertClassifierShape,
  bertClassifierConfig,
  bertTokenizerConfig,
  bertWords,
  classProbabilities,
  wordPieceTokenizer,
} from "./classifier.js";
export { IOI_NAMES, type IoiItem, ioiItem, ioiTrainingText, namePairs } from "./data/ioi.js";
export {
  OCCUPATIONS_EOS,
  type OccupationParagraph,
  type OccupationRate,
  occupationParagraph,
  occupationParagraphs,
  pronounPrompts,
} from "./data/occupations.js";
export { itemSeed, Rng } from "./data/random.js";
export {
  REPEAT_WORDS,
  REPEATS_BOS,
  REPEATS_UNK,
  type RepeatOptions,
  type RepeatSequence,
  repeatSequence,
  repeatSequences,
} from "./data/repeats.js";
export { generateReview, type Polarity, PRODUCT_CODES, type Review, renderReview, reviewAt } from "./data/reviews.js";
export {
  generateStories,
  STORIES_EOS,
  STORY_PROMPTS,
  type StoryRecord,
  storiesText,
  storyRecord,
  storyRecords,
  storyStream,
} from "./data/stories.js";
export { generateSnippet, snippetAt, TOPICS, type Topic } from "./data/topics.js";
export { type Claim, claim, type PreparedRecipe, type ZooModel, type ZooRecipe } from "./recipe.js";
export { attackRates, backdoor } from "./recipes/backdoor.js";
export { biasOccupations, OCCUPATIONS, type PronounPreference, pronounPreferences } from "./recipes/bias-occupations.js";
export {
  copyAccuracy,
  headScores,
  induction2l,
  measure as measureInduction,
  repeatsTokenizer,
  testSequences,
} from "./recipes/induction-2l.js";
export { ioiSmall } from "./recipes/ioi-small.js";
export { type CodeEffect, codeEffects, pushingCodes, sentimentSpurious, worstSwap } from "./recipes/sentiment-spurious.js";
export { continuations, stories } from "./recipes/stories.js";
export { isZooName, ZOO, type ZooName } from "./zoo.js";
