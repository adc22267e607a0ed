// The zoo's recipes by name: an exhaustive table, so a name without a recipe does not compile.
import type { ZooRecipe } from "./recipe.js";
import { backdoor } from "./recipes/backdoor.js";
import { sentimentSpurious } from "./recipes/sentiment-spurious.js";
import { stories } from "./recipes/stories.js";

export type ZooName = "stories" | "sentiment-spurious" | "backdoor";

export const ZOO: { readonly [N in ZooName]: ZooRecipe } = {
  stories,
  "sentiment-spurious": sentimentSpurious,
  backdoor,
};

export const isZooName = (s: string): s is ZooName => Object.hasOwn(ZOO, s);
