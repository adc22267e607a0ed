// The word lists of the stories corpus. The vocabulary is kept deliberately small (under ~1,000 words in all) so
// that a model of a few million parameters, trained for minutes, can learn both the words and the grammar around
// them; every list below is closed, and the templates in story-plots.ts use no open-class words outside them
// except their own fixed phrases.

export type Pronoun = "he" | "she" | "they";

/** A noun with its plural spelled out, since a few are irregular (mice, leaves, sheep). */
export interface Noun {
  readonly sg: string;
  readonly pl: string;
}

const n = (sg: string, pl = `${sg}s`): Noun => ({ sg, pl });

/** Children's names, each always with the same pronoun so the model can learn the pairing. */
export const CHILD_NAMES: Readonly<Record<Pronoun, readonly string[]>> = {
  he: ["Tom", "Ben", "Max", "Leo", "Jack", "Tim", "Finn", "Noah", "Owen", "Eli", "Sam", "Dan", "Luke", "Oscar"],
  she: ["Lily", "Mia", "Anna", "Zoe", "Emma", "Lucy", "Sara", "Ella", "Ruby", "Ivy", "Amy", "Ava", "Nora", "Maya"],
  they: ["Alex", "Jo", "Kit", "Robin", "Sky", "Rowan", "Charlie", "Quinn"],
};

/** What a child is called at introduction ("a little girl named Lily"); "kid" and "child" fit every pronoun. */
export const CHILD_NOUNS: Readonly<Record<Pronoun, readonly string[]>> = {
  he: ["boy", "boy", "kid"],
  she: ["girl", "girl", "kid"],
  they: ["kid", "child"],
};

/** Pets' and animal friends' names, again one pronoun each. */
export const ANIMAL_NAMES: Readonly<Record<Pronoun, readonly string[]>> = {
  he: ["Rex", "Spot", "Milo", "Toby", "Buddy", "Bingo", "Oliver"],
  she: ["Bella", "Rosie", "Luna", "Coco", "Daisy", "Molly", "Penny"],
  they: ["Pip", "Sunny", "Fluffy", "Nibbles", "Pebble"],
};

export const ANIMALS: readonly Noun[] = [
  n("cat"),
  n("dog"),
  n("bunny", "bunnies"),
  n("bird"),
  n("fox", "foxes"),
  n("bear"),
  n("owl"),
  n("duck"),
  n("frog"),
  n("mouse", "mice"),
  n("pig"),
  n("lion"),
  n("elephant"),
  n("ant"),
  n("turtle"),
  n("squirrel"),
  n("puppy", "puppies"),
  n("kitten"),
  n("horse"),
  n("cow"),
  n("sheep", "sheep"),
  n("goat"),
  n("chick"),
  n("deer", "deer"),
  n("monkey"),
  n("penguin"),
  n("hedgehog"),
  n("otter"),
];

/** Grown-ups who help; their names are what a child calls them. */
export const ADULTS: readonly { readonly name: string; readonly pronoun: Pronoun }[] = [
  { name: "Mom", pronoun: "she" },
  { name: "Dad", pronoun: "he" },
  { name: "Grandma", pronoun: "she" },
  { name: "Grandpa", pronoun: "he" },
];

/** Adjectives for introducing a character ("a shy little fox"); vowel-initial ones exercise "an". */
export const TRAITS: readonly string[] = [
  "kind",
  "happy",
  "shy",
  "brave",
  "curious",
  "clever",
  "gentle",
  "friendly",
  "funny",
  "sleepy",
  "quiet",
  "busy",
  "playful",
  "cheerful",
  "helpful",
  "honest",
  "eager",
  "silly",
  "proud",
  "lonely",
];

export const SIZES: Readonly<Record<"child" | "animal", readonly string[]>> = {
  child: ["little", "little", "small", "young"],
  animal: ["little", "small", "big", "tiny", "young", "old"],
};

/** A wise helper animal, always met without a name ("a wise old owl"). */
export const WISE: readonly string[] = ["wise", "old", "kind", "gentle", "friendly"];
/** Animals that cannot be old and wise. */
export const YOUNG_ANIMALS: readonly string[] = ["puppy", "kitten", "bunny"];

export const COLORS: readonly string[] = [
  "red",
  "blue",
  "green",
  "yellow",
  "orange",
  "pink",
  "purple",
  "white",
  "brown",
  "black",
];

/** Things a child can own, love, lose and find. */
export const THINGS: readonly Noun[] = [
  n("ball"),
  n("kite"),
  n("hat"),
  n("book"),
  n("doll"),
  n("drum"),
  n("teddy bear"),
  n("toy car"),
  n("toy boat"),
  n("balloon"),
  n("shell"),
  n("key"),
  n("bell"),
  n("blanket"),
  n("cup"),
  n("scarf", "scarves"),
  n("umbrella"),
  n("robot"),
  n("train"),
  n("ring"),
  n("marble"),
  n("feather"),
  n("box", "boxes"),
  n("boot"),
  n("bucket"),
  n("map"),
  n("whistle"),
  n("crown"),
];

/** Things to share, in the plural ("five red apples"). */
export const TREATS: readonly Noun[] = [
  n("apple"),
  n("cookie"),
  n("cupcake"),
  n("strawberry", "strawberries"),
  n("cherry", "cherries"),
  n("orange"),
  n("candy", "candies"),
  n("muffin"),
  n("plum"),
  n("pear"),
  n("sticker"),
  n("crayon"),
  n("block"),
  n("marble"),
];

/** Colors that describe a treat truthfully enough; treats not listed take no color. */
export const TREAT_COLORS: Readonly<Record<string, readonly string[]>> = {
  apple: ["red", "green", "yellow"],
  sticker: ["red", "blue", "green", "yellow", "pink", "purple"],
  crayon: ["red", "blue", "green", "yellow", "orange", "pink", "purple", "brown", "black"],
  block: ["red", "blue", "green", "yellow", "orange", "pink", "purple", "white"],
  marble: ["red", "blue", "green", "yellow", "orange", "pink", "purple", "white", "black"],
  candy: ["red", "pink", "yellow", "orange", "green"],
  pear: ["green", "yellow"],
};

/** Places with the preposition that goes before "the <place>". */
export interface Place {
  readonly name: string;
  readonly at: string;
}
const p = (name: string, at: string): Place => ({ name, at });

export const PLACES: readonly Place[] = [
  p("park", "in"),
  p("forest", "in"),
  p("garden", "in"),
  p("beach", "at"),
  p("farm", "on"),
  p("pond", "by"),
  p("river", "by"),
  p("hill", "on"),
  p("meadow", "in"),
  p("school", "at"),
  p("kitchen", "in"),
  p("library", "at"),
  p("zoo", "at"),
  p("lake", "by"),
  p("field", "in"),
  p("town", "in"),
  p("market", "at"),
  p("playground", "at"),
  p("backyard", "in"),
  p("barn", "in"),
  p("woods", "in"),
  p("village", "in"),
  p("sea", "by"),
  p("orchard", "in"),
];

/** Where a lost thing turns up: a full prepositional phrase. */
export const HIDING_SPOTS: readonly string[] = [
  "under the bed",
  "behind the door",
  "under a big rock",
  "in the tall grass",
  "under a pile of leaves",
  "behind a tree",
  "inside an old box",
  "next to the pond",
  "under the table",
  "in the toy box",
  "behind the couch",
  "under a bush",
  "on top of the shelf",
  "in the garden",
  "near the gate",
];

/** Something to do, in three forms: "liked to sing", "sang all day", "singing". */
export interface Activity {
  readonly base: string;
  readonly past: string;
  readonly ing: string;
}
const a = (base: string, past: string, ing: string): Activity => ({ base, past, ing });

export const ACTIVITIES: readonly Activity[] = [
  a("sing", "sang", "singing"),
  a("dance", "danced", "dancing"),
  a("paint", "painted", "painting"),
  a("read books", "read books", "reading books"),
  a("run fast", "ran fast", "running"),
  a("jump rope", "jumped rope", "jumping rope"),
  a("draw pictures", "drew pictures", "drawing pictures"),
  a("swim", "swam", "swimming"),
  a("climb trees", "climbed trees", "climbing trees"),
  a("bake cookies", "baked cookies", "baking cookies"),
  a("dig in the sand", "dug in the sand", "digging in the sand"),
  a("play outside", "played outside", "playing outside"),
  a("look at the stars", "looked at the stars", "looking at the stars"),
  a("build towers", "built towers", "building towers"),
  a("help others", "helped others", "helping others"),
  a("play games", "played games", "playing games"),
  a("count the clouds", "counted the clouds", "counting the clouds"),
  a("pick flowers", "picked flowers", "picking flowers"),
  a("splash in puddles", "splashed in puddles", "splashing in puddles"),
  a("tell jokes", "told jokes", "telling jokes"),
];

/** Games two friends play together ("They played tag"). */
export const GAMES: readonly string[] = [
  "tag",
  "hide and seek",
  "catch",
  "ball",
  "a game of pretend",
  "with blocks",
  "in the sand",
  "on the swings",
];

/** What a character fears, as the object of "afraid of". */
export const FEARS: readonly { readonly what: string; readonly it: "it" | "they" }[] = [
  { what: "the dark", it: "it" },
  { what: "thunder", it: "it" },
  { what: "the big slide", it: "it" },
  { what: "the deep water", it: "it" },
  { what: "the tall tree", it: "it" },
  { what: "bees", it: "they" },
  { what: "the loud wind", it: "it" },
  { what: "the old bridge", it: "it" },
];

export const NUMBERS: readonly string[] = ["two", "three", "four", "five", "six"];

/** Closing feelings ("felt proud"). */
export const FEELINGS: readonly string[] = ["happy", "proud", "glad", "calm", "warm inside", "very lucky"];
