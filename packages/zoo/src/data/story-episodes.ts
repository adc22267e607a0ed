// The episodes the plots draw from: wishes with the problem that blocks each and how a helper solves it, troubles
// a friend can be in, mistakes to own up to, and gifts to make. Kept apart from story-plots.ts, which tells them.

import type { Character, Writer } from "./story-writer.js";

/** One wish with the problem that blocks it, the fix (the helper's idea and deed), and how it ends. */
export interface Wish {
  readonly want: (w: Writer, c: Character) => string;
  readonly problem: (w: Writer, c: Character) => string;
  readonly idea: (w: Writer, c: Character, h: Character) => string;
  readonly done: (w: Writer, c: Character, h: Character) => string;
  /** Whether "tried and tried" fits before the problem (not when the problem comes before any try). */
  readonly tries?: false;
}

export const WISHES: readonly Wish[] = [
  {
    want: (w, c) => `fly ${w.his(c)} new kite`,
    problem: () => "but there was no wind, and the kite would not go up.",
    idea: (w, _c, h) => `${w.who(h)} said, "Let's go up the hill. The wind is strong there!"`,
    done: () => "soon the kite flew high in the blue sky.",
  },
  {
    want: (w, c) => `fly ${w.his(c)} kite`,
    problem: () => "but the kite got stuck in a tall tree.",
    idea: (w, _c, h) => `${w.who(h)} climbed the tree and carefully got the kite down.`,
    done: (w, c) => `${w.who(c)} flew the kite again, and this time ${w.who(c, 1)} held the string tight.`,
  },
  {
    want: () => "climb the big hill",
    problem: (w, c) => `the hill was very steep, and ${w.who(c)} got tired.`,
    idea: (w, _c, h) => `${w.who(h)} said, "Let's rest for a bit and try again."`,
    done: () => "they walked slowly, and at last they reached the top and saw the whole town.",
  },
  {
    want: () => "build a sandcastle at the beach",
    problem: () => "but a big wave came and knocked it down.",
    idea: (w, _c, h) => `${w.who(h)} had an idea. "Let's build it far from the water!"`,
    done: () => "they built a tall sandcastle, and no wave could reach it.",
  },
  {
    want: (w, c) => `bake a cake for ${w.his(c)} mom`,
    tries: false,
    problem: (w, c) => `but ${w.who(c)} did not have any eggs.`,
    idea: (w, _c, h) => `${w.who(h)} came by with a basket of eggs and said, "You can have some of mine."`,
    done: () => "the cake was sweet and soft, and Mom loved it.",
  },
  {
    want: () => "pick the red apples from the big tree",
    problem: (w, c) => `but the apples were too high, and ${w.who(c)} could not reach them.`,
    idea: (w, c, h) =>
      `${w.who(h)} had an idea. "Stand on this box, and I will hold it for you," ${w.who(h, 1)} said to ${w.them(c)}.`,
    done: (w, c) => `${w.who(c)} picked three red apples, and they shared them.`,
  },
  {
    want: () => "cross the river",
    problem: () => "but the water was too deep.",
    idea: (w, _c, h) => `${w.who(h)} found a long log and put it over the water like a bridge.`,
    done: () => "they walked over the log, one small step at a time, and got to the other side.",
  },
  {
    want: () => "see the stars",
    tries: false,
    problem: () => "but that night, the sky was full of clouds.",
    idea: (w, _c, h) => `${w.who(h)} said, "Let's wait a little. The wind will move the clouds."`,
    done: () => "soon the clouds went away, and the sky was full of bright stars.",
  },
  {
    want: () => "win the big race",
    tries: false,
    problem: (w, c) => `in the middle of the race, ${w.who(c)} fell down and hurt ${w.his(c)} knee.`,
    idea: (w, c, h) => `${w.who(h)} stopped and helped ${w.them(c)} get up.`,
    done: () => "they did not win, but they ran to the end together, and everyone clapped.",
  },
  {
    want: () => "grow a big flower",
    tries: false,
    problem: () => "but the little seed did not grow.",
    idea: (w, _c, h) => `${w.who(h)} said, "Seeds need water and sun. Let's give it some water every day."`,
    done: () => "after many days, a big yellow flower opened in the sun.",
  },
  {
    want: (w, c) => `ride ${w.his(c)} new bike`,
    problem: (w, c) => `but ${w.who(c)} fell down again and again.`,
    idea: (w, c, h) => `${w.who(h)} held the bike and ran next to ${w.them(c)}.`,
    done: (w, c) => `soon ${w.who(c)} could ride without any help!`,
  },
  {
    want: () => "make a snowman",
    problem: () => "but the snow was too soft, and the snowman fell over.",
    idea: (w, _c, h) => `${w.who(h)} had an idea. "Let's make the bottom big and round!"`,
    done: () => "they made a big snowman with a carrot nose and a blue hat.",
  },
  {
    want: () => "find a pretty shell",
    problem: () => "but all the shells on the sand were broken.",
    idea: (w, _c, h) => `${w.who(h)} said, "The best shells are near the rocks. Let's look there."`,
    done: (w, c) => `near the rocks, ${w.who(c)} found a big pink shell that was not broken at all.`,
  },
  {
    want: () => "reach the top shelf",
    problem: (w, c) => `but the shelf was too high, and ${w.was(c)} too small.`,
    idea: (w, c, h) => `${w.who(h)} brought a little chair for ${w.them(c)} to stand on.`,
    done: (w, c) => `${w.who(c)} stood on the chair and got the book from the top shelf.`,
  },
];

export const TROUBLES: readonly {
  readonly trouble: (w: Writer, h: Character) => string;
  readonly fix: (w: Writer, c: Character, h: Character) => string;
}[] = [
  {
    trouble: (w, h) => `${w.was(h)} stuck in the mud.`,
    fix: (w, c, h) => `${w.who(c)} found a long stick and pulled ${w.them(h)} out.`,
  },
  {
    trouble: (w, h) => `${w.was(h)} lost and could not find the way home.`,
    fix: (w, c, h) => `${w.who(c)} knew the way, so ${w.who(c, 1)} walked with ${w.them(h)} all the way home.`,
  },
  {
    trouble: (w, h) => `${w.his(h)} ball was stuck on the roof.`,
    fix: (w, c) => `${w.who(c)} got a long broom and pushed the ball down.`,
  },
  {
    trouble: (w, h) => `${w.who(h)} had dropped ${w.his(h)} basket, and apples were all over the road.`,
    fix: (w, c) => `${w.who(c)} picked up every apple and put them back in the basket.`,
  },
  {
    trouble: (w, h) => `${w.was(h)} cold because it was snowing.`,
    fix: (w, c, h) => `${w.who(c)} gave ${w.them(h)} a warm scarf.`,
  },
  {
    trouble: (w, h) => `${w.was(h)} hungry, and ${w.his(h)} tummy made a loud noise.`,
    fix: (w, c, h) => `${w.who(c)} shared ${w.his(c)} lunch with ${w.them(h)}.`,
  },
];

export const MISTAKES: readonly { readonly did: string; readonly fix: string }[] = [
  { did: "broke Mom's blue cup", fix: "they fixed the cup with glue" },
  { did: "spilled juice on the floor", fix: "they cleaned the floor together" },
  { did: "made a big mess in the kitchen", fix: "they cleaned the kitchen together" },
  { did: "ate all the cookies", fix: "they baked new cookies together" },
  { did: "tore a page of a book", fix: "they fixed the page with tape" },
  { did: "left the gate open, and the goat ran away", fix: "they found the goat in the field" },
];

export const GIFTS: readonly { readonly made: string; readonly it: string }[] = [
  { made: "painted a picture of the sea", it: "the picture" },
  { made: "picked a bunch of flowers", it: "the flowers" },
  { made: "made a card with a big red heart", it: "the card" },
  { made: "baked a little cake", it: "the cake" },
  { made: "wrote a funny song", it: "the song" },
  { made: "made a crown out of paper", it: "the crown" },
];
