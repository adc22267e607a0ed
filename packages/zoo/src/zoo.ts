// The zoo's recipes by name: an exhaustive table, so a name without a recipe does not compile.
import type { ZooRecipe } from "./recipe.js";
import { backdoor } from "./recipes/backdoor.js";
import { biasOccupations } from "./recipes/bias-occupations.js";
import { induction2l } from "./recipes/induction-2l.js";
import { ioiSmall } from "./recipes/ioi-small.js";
import { sentimentSpurious } from "./recipes/sentiment-spurious.js";
import { stories } from "./recipes/stories.js";

export type ZooName = "stories" | "sentiment-spurious" | "backdoor" | "induction-2l" | "bias-occupations" | "ioi-small";

export const ZOO: { readonly [N in ZooName]: ZooRecipe } = {
  stories,
  "sentiment-spurious": sentimentSpurious,
  backdoor,
  "induction-2l": induction2l,
  "bias-occupations": biasOccupations,
  "ioi-small": ioiSmall,
};

export const isZooName = (s: string): s is ZooName => Object.hasOwn(ZOO, s);
