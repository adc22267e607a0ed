// @llmdbg/zoo — the demonstration models llmdbg trains itself: their data generators, recipes and checks.
// Platform-neutral; node.ts adds what needs the file system.

export { itemSeed, Rng } from "./data/random.js";
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
export { type Claim, claim, type PreparedRecipe, type ZooModel, type ZooRecipe } from "./recipe.js";
export { continuations, stories } from "./recipes/stories.js";
export { isZooName, ZOO, type ZooName } from "./zoo.js";
