// The plots of the stories corpus. A plot is a chain of beats — an opening, a wish or a problem, a helper or an
// idea, a resolution, a feeling at the end — each beat a sentence or two drawn from several phrasings. Optional
// beats are left out to vary the length, so one plot gives stories from three to nine sentences. Every reference
// to a character goes through the Writer, which picks the name or the pronoun and makes the verb agree.

import type { Rng } from "./random.js";
import { GIFTS, MISTAKES, TROUBLES, WISHES } from "./story-episodes.js";
import {
  ACTIVITIES,
  type Activity,
  COLORS,
  FEARS,
  FEELINGS,
  GAMES,
  HIDING_SPOTS,
  type Noun,
  NUMBERS,
  PLACES,
  type Place,
  THINGS,
  TREAT_COLORS,
  TREATS,
} from "./story-words.js";
import { a, type Character, type Pair, type Writer } from "./story-writer.js";

/** What one plot needs: the writer, the hero, a second character (a helper or a friend) and a place. */
export interface Cast {
  readonly hero: Character;
  readonly other: Character;
  readonly place: Place;
}

/** A beat: `opt` beats may be left out to shorten the story; `n` is how many sentences it writes (default 1). */
interface Beat {
  readonly opt?: boolean;
  readonly n?: number;
  readonly run: () => void;
}

export type Plot = (w: Writer, cast: Cast, length: number) => void;

/** Runs the required beats and as many optional ones as `length` allows, chosen at random, in story order. */
function tell(rng: Rng, beats: readonly Beat[], length: number): void {
  const optional = beats.filter((b) => b.opt === true);
  let room = length;
  for (const b of beats) if (b.opt !== true) room -= b.n ?? 1;
  const keep = new Set<Beat>();
  // each optional beat kept with the probability that leaves the expected count at `room`
  optional.forEach((b, i) => {
    if (room > 0 && rng.chance(room / (optional.length - i))) {
      keep.add(b);
      room -= b.n ?? 1;
    }
  });
  for (const b of beats) if (b.opt !== true || keep.has(b)) b.run();
}

const at = (p: Place) => `${p.at} the ${p.name}`;

const HOMES = [
  "near the forest",
  "in a small house by the sea",
  "on a big farm",
  "in a cozy house on a hill",
  "next to a big park",
  "in a little village",
  "in a yellow house with a red door",
];

/** The first sentence: introduces the hero (and sometimes the place). */
function opening(w: Writer, c: Character, place: Place): string {
  const rng = w.rng;
  const act = rng.pick(ACTIVITIES);
  switch (rng.int(11)) {
    case 0:
      return `once upon a time, there was ${w.intro(c)}.`;
    case 1:
      return `once upon a time, ${w.intro(c)} lived ${rng.pick(HOMES)}.`;
    case 2:
      return `one day, ${c.proper ? w.name(c) : w.intro(c)} went to the ${place.name}.`;
    case 3:
      return `there was once ${w.intro(c)} who loved to ${act.base}.`;
    case 4:
      return `there was ${w.intro(c)}.`;
    case 5:
      return `long ago, in a quiet village, there lived ${w.intro(c)}.`;
    case 6:
      return `one sunny morning, ${c.proper ? w.name(c) : w.intro(c)} woke up early.`;
    case 7:
      return `it was a rainy day, and ${c.proper ? w.name(c) : w.intro(c)} was bored.`;
    case 8:
      return `once upon a time, there was ${w.intro(c)} who lived ${rng.pick(HOMES)}.`;
    case 9:
      if (!c.proper) return `${w.intro(c)} liked to play ${at(place)} every day.`;
      return `every day, ${w.name(c)} liked to play ${at(place)}.`;
    default:
      return `${w.intro(c)} lived ${rng.pick(HOMES)} and loved ${act.ing}.`;
  }
}

/** An optional second sentence about the hero. */
function trait(w: Writer, c: Character, act: Activity): string {
  const rng = w.rng;
  switch (rng.int(4)) {
    case 0:
      return `${w.who(c)} liked to ${act.base} every day.`;
    case 1:
      return `${w.who(c)} loved ${act.ing} more than anything.`;
    case 2:
      return `${w.was(c)} always ${rng.pick(["happy", "busy", "curious", "kind", "full of ideas"])}.`;
    default:
      return `every morning, ${w.who(c)} ${act.past} with a big smile.`;
  }
}

/** The closing sentence: a feeling, a lesson, or the friends together. */
function ending(w: Writer, c: Character, pair: Pair | undefined, lesson: string): string {
  const rng = w.rng;
  switch (rng.int(6)) {
    case 0:
      return `${w.who(c)} felt ${rng.pick(FEELINGS)}.`;
    case 1:
      return `${w.was(c)} very happy, and ${w.who(c, 1)} smiled all day.`;
    case 2:
      if (pair !== undefined) return `${w.both(pair)} were happy, and they played together until the sun went down.`;
      return `${w.was(c)} happy, and ${w.who(c, 1)} played until the sun went down.`;
    case 3:
      return `from that day on, ${w.who(c)} knew that ${lesson}.`;
    case 4:
      return `it was the best day ever.`;
    default:
      return `that night, ${w.who(c)} went to bed with a big smile.`;
  }
}

/** The address a speaker uses for `c`: its name when it has one, else a kind word. */
const call = (w: Writer, c: Character) => (c.proper ? w.name(c) : "my friend");

// ---- lost and found ------------------------------------------------------------------------------------------

const lost: Plot = (w, { hero: c, other: h, place }, length) => {
  const rng = w.rng;
  const t = rng.pick(THINGS).sg;
  const color = rng.pick(COLORS);
  const [spot, miss1, miss2] = [rng.pick(HIDING_SPOTS), rng.pick(HIDING_SPOTS), rng.pick(HIDING_SPOTS)];
  const pair = { a: c, b: h };
  // short stories have no helper: the hero finds the thing alone
  const alone = length <= 4 || rng.chance(0.1);
  const seen = rng.chance(0.3); // the hero spots the lost thing (two sentences) rather than the helper finding it
  tell(
    rng,
    [
      { run: () => w.add(opening(w, c, place)) },
      {
        opt: true,
        run: () =>
          w.add(
            rng.pick([
              () => `${w.who(c)} had ${a(`${color} ${t}`)} that ${w.who(c, 1)} loved very much.`,
              () => `${w.who(c)} took ${w.his(c)} ${color} ${t} everywhere.`,
              () => `${w.his(c)} favorite thing was ${a(`${color} ${t}`)}.`,
            ])(),
          ),
      },
      {
        run: () =>
          w.add(
            rng.pick([
              () => `one day, ${w.who(c)} could not find ${w.his(c)} ${t}.`,
              () => `one morning, ${w.his(c)} ${t} was gone.`,
              () => `but one day, ${w.who(c)} lost ${w.his(c)} ${t} ${at(place)}.`,
              () => `one day, ${w.was(c)} sad because ${w.who(c, 1)} could not find ${w.his(c)} ${t}.`,
            ])(),
          ),
      },
      {
        opt: true,
        run: () =>
          w.add(
            miss1 === miss2 || miss1 === spot || miss2 === spot
              ? `${w.who(c)} looked everywhere, but ${w.who(c, 1)} could not find it.`
              : `${w.who(c)} looked ${miss1} and ${miss2}, but it was not there.`,
          ),
      },
      {
        opt: true,
        run: () =>
          w.add(
            rng.pick([
              () => `${w.was(c)} very sad.`,
              () => `${w.who(c)} sat down and began to cry.`,
              () => `${w.was(c)} so sad that ${w.who(c, 1)} began to cry.`,
            ])(),
          ),
      },
      ...(alone
        ? []
        : [
            {
              run: () =>
                w.add(
                  rng.pick([
                    () => `then ${w.intro(h)} came by.`,
                    () => `just then, ${w.intro(h)} walked by.`,
                    () => `soon, ${w.intro(h)} saw ${w.them(c)}.`,
                  ])(),
                ),
            },
            {
              opt: true,
              run: () => w.add(w.say(h, rng.pick(["what is wrong?", "why are you sad?", "are you okay?", "what happened?"]))),
            },
            {
              opt: true,
              run: () =>
                w.add(
                  w.say(
                    c,
                    rng.pick([`I lost my ${color} ${t}!`, `I can't find my ${t}.`, `my ${t} is gone!`, `I lost my ${t}.`]),
                    {
                      tone: "sad",
                    },
                  ),
                ),
            },
            {
              opt: true,
              run: () =>
                w.add(
                  w.say(
                    h,
                    rng.pick([
                      "don't worry. I will help you find it.",
                      "let's look for it together!",
                      "I can help you look.",
                      "we will find it!",
                    ]),
                  ),
                ),
            },
          ]),
      {
        n: seen ? 2 : 1,
        run: () =>
          seen
            ? w.add(`then ${w.who(c)} saw something ${color} ${spot}.`, `it was ${w.his(c)} ${t}!`)
            : w.add(
                alone
                  ? `at last, ${w.who(c)} found it ${spot}.`
                  : rng.pick([
                      () => `at last, ${w.who(h)} found the ${t} ${spot}.`,
                      () => `${w.both(pair)} looked high and low, and at last they found it ${spot}.`,
                      () => `after a long time, ${w.who(h)} found it ${spot}.`,
                    ])(),
              ),
      },
      ...(alone || seen // no thanks for a helper who did not find it
        ? []
        : [
            {
              opt: true,
              run: () =>
                w.add(
                  w.say(c, rng.pick([`thank you, ${call(w, h)}!`, "thank you for helping me!", "you found it!"]), {
                    tone: "happy",
                  }),
                ),
            },
          ]),
      {
        opt: true,
        run: () => w.add(`from that day on, ${w.who(c)} always kept ${w.his(c)} ${t} in a safe place.`),
      },
      {
        run: () =>
          w.add(
            ending(w, c, alone ? undefined : pair, alone ? "it is good to keep your things safe" : "friends help each other"),
          ),
      },
    ],
    length,
  );
};

// ---- a wish, a problem, an idea ------------------------------------------------------------------------------

const wish: Plot = (w, { hero: c, other: h, place }, length) => {
  const rng = w.rng;
  const g = rng.pick(WISHES);
  const pair = { a: c, b: h };
  tell(
    rng,
    [
      { run: () => w.add(opening(w, c, place)) },
      { opt: true, run: () => w.add(trait(w, c, rng.pick(ACTIVITIES))) },
      {
        run: () =>
          rng.chance(0.5)
            ? w.add(`one day, ${w.who(c)} wanted to ${g.want(w, c)}.`)
            : w.add(`${w.who(c)} ${rng.pick(["really wanted", "wanted", "hoped"])} to ${g.want(w, c)}.`),
      },
      { opt: true, run: () => (g.tries === false ? undefined : w.add(`${w.who(c)} tried and tried.`)) },
      { run: () => w.add(g.problem(w, c)) },
      { opt: true, run: () => w.add(`${w.was(c)} sad and did not know what to do.`) },
      {
        run: () =>
          w.add(
            rng.pick([
              () => `then ${w.intro(h)} came to help.`,
              () => `just then, ${w.intro(h)} came by.`,
              () => `${w.who(c)} asked ${w.intro(h)} for help.`,
            ])(),
          ),
      },
      { opt: true, run: () => w.add(w.say(c, rng.pick(["can you help me?", "will you help me, please?", "I need some help."]))) },
      { run: () => w.add(g.idea(w, c, h)) },
      { run: () => w.add(g.done(w, c, h)) },
      {
        opt: true,
        run: () =>
          w.add(w.say(c, rng.pick([`thank you, ${call(w, h)}!`, "we did it!", "you are a good friend."]), { tone: "happy" })),
      },
      { run: () => w.add(ending(w, c, pair, "it is good to ask for help")) },
    ],
    length,
  );
};

// ---- sharing ------------------------------------------------------------------------------------------------

const sharing: Plot = (w, { hero: c, other: h, place }, length) => {
  const rng = w.rng;
  const treat: Noun = rng.pick(TREATS);
  const colors = TREAT_COLORS[treat.sg];
  const color = colors !== undefined && rng.chance(0.5) ? `${rng.pick(colors)} ` : "";
  const count = rng.pick(NUMBERS);
  const pair = { a: c, b: h };
  tell(
    rng,
    [
      { run: () => w.add(opening(w, c, place)) },
      {
        run: () =>
          w.add(
            rng.pick([
              () => `${w.who(c)} had ${count} ${color}${treat.pl}.`,
              () => `one day, ${w.who(c)} got ${count} ${color}${treat.pl} from Grandma.`,
              () => `in ${w.his(c)} bag, ${w.who(c)} had ${count} ${color}${treat.pl}.`,
            ])(),
          ),
      },
      { opt: true, run: () => w.add(`the ${treat.pl} were ${rng.pick(["very nice", "the best", "new", "perfect"])}.`) },
      {
        run: () =>
          w.add(
            rng.pick([
              () => `then ${w.intro(h)} came by.`,
              () => `${w.intro(h)} saw the ${treat.pl}.`,
              () => `${w.intro(h)} did not have any ${treat.pl}.`,
            ])(),
          ),
      },
      {
        run: () =>
          w.add(w.say(h, rng.pick([`can I have one ${treat.sg}, please?`, `may I have ${a(treat.sg)}?`, `can we share?`]))),
      },
      {
        opt: true,
        run: () =>
          w.add(
            rng.pick([
              () => `at first, ${w.who(c)} did not want to share.`,
              () => `${w.who(c)} looked at ${w.his(c)} ${treat.pl} and thought for a moment.`,
            ])(),
          ),
      },
      {
        run: () =>
          rng.chance(0.5)
            ? w.add(
                w.say(c, rng.pick([`yes! You can have one ${treat.sg}.`, "yes, let's share!", "of course!"]), {
                  answer: true,
                  tone: "happy",
                }),
              )
            : w.add(`then ${w.who(c)} gave one ${treat.sg} to ${w.them(h)}.`),
      },
      {
        opt: true,
        run: () =>
          w.add(w.say(h, rng.pick(["thank you!", "you are so kind!", "thank you. You are a good friend."]), { tone: "happy" })),
      },
      {
        opt: true,
        run: () => w.add(`${w.both(pair)} sat ${at(place)} and ${rng.pick(["shared", "enjoyed"])} the ${treat.pl} together.`),
      },
      { run: () => w.add(ending(w, c, pair, "sharing makes everyone happy")) },
    ],
    length,
  );
};

// ---- being afraid -------------------------------------------------------------------------------------------

const afraid: Plot = (w, { hero: c, other: h, place }, length) => {
  const rng = w.rng;
  const fear = rng.pick(FEARS);
  const pair = { a: c, b: h };
  const isWas = fear.it === "they" ? "they were" : "it was";
  tell(
    rng,
    [
      { run: () => w.add(opening(w, c, place)) },
      {
        run: () =>
          w.add(
            rng.pick([
              () => `${w.was(c)} afraid of ${fear.what}.`,
              () => `but ${w.was(c)} very scared of ${fear.what}.`,
              () => `there was one thing ${w.who(c)} did not like: ${fear.what}.`,
            ])(),
          ),
      },
      { opt: true, run: () => w.add(`every time ${w.who(c)} thought about ${fear.what}, ${w.who(c, 1)} wanted to hide.`) },
      {
        run: () =>
          w.add(
            rng.pick([
              () => `one day, ${w.intro(h)} saw that ${w.was(c)} scared.`,
              () => `${w.who(c)} told ${w.intro(h)} about it.`,
            ])(),
          ),
      },
      {
        opt: true,
        run: () =>
          w.add(w.say(c, rng.pick(["I am scared.", "I don't like it.", `I am afraid of ${fear.what}.`]), { tone: "sad" })),
      },
      {
        run: () =>
          w.add(
            w.say(h, rng.pick(["don't be afraid. I am here with you.", "I will stay with you.", "we can be brave together!"])),
          ),
      },
      { opt: true, run: () => w.add(`${w.who(h)} held ${w.his(c)} hand.`) },
      { run: () => w.add(`${w.who(c)} took a deep breath and felt brave.`) },
      { opt: true, run: () => w.add(`${isWas} not so scary after all.`) },
      { opt: true, run: () => w.add(`now ${w.was(c)} not afraid anymore.`) },
      { run: () => w.add(ending(w, c, pair, "being brave is easier with a friend")) },
    ],
    length,
  );
};

// ---- a new friend -------------------------------------------------------------------------------------------

const friend: Plot = (w, { hero: c, other: h, place }, length) => {
  const rng = w.rng;
  const act = rng.pick(ACTIVITIES);
  const game = rng.pick(GAMES);
  const pair = { a: c, b: h };
  tell(
    rng,
    [
      { run: () => w.add(opening(w, c, place)) },
      {
        run: () =>
          w.add(
            rng.pick([
              () => `${w.was(c)} new in town and did not have any friends.`,
              () => `${w.was(c)} lonely because ${w.who(c, 1)} had no one to play with.`,
              () => `one day, ${w.was(c)} all alone ${at(place)}.`,
            ])(),
          ),
      },
      { opt: true, run: () => w.add(`${w.who(c)} sat on a bench and looked at the sky.`) },
      {
        run: () =>
          w.add(
            rng.pick([
              () => `then ${w.who(c)} saw ${w.intro(h)} who was ${act.ing} all alone.`,
              () => `then ${w.intro(h)} came and sat next to ${w.them(c)}.`,
            ])(),
          ),
      },
      {
        run: () =>
          w.add(w.say(c, rng.pick(["do you want to play with me?", "hello! Can I play too?", "will you be my friend?"]))),
      },
      {
        opt: true,
        run: () =>
          w.add(w.say(h, rng.pick(["yes, I would love to!", "yes! Let's play!", "of course!"]), { answer: true, tone: "happy" })),
      },
      { run: () => w.add(`${w.both(pair)} played ${game} ${at(place)}.`) },
      { opt: true, run: () => w.add(`they laughed and ran until they were tired.`) },
      { opt: true, run: () => w.add(`from that day on, ${w.both(pair)} were best friends.`) },
      { run: () => w.add(ending(w, c, pair, "a smile is the start of a friendship")) },
    ],
    length,
  );
};

// ---- helping someone ----------------------------------------------------------------------------------------

const helping: Plot = (w, { hero: c, other: h, place }, length) => {
  const rng = w.rng;
  const tr = rng.pick(TROUBLES);
  const pair = { a: c, b: h };
  tell(
    rng,
    [
      { run: () => w.add(opening(w, c, place)) },
      { opt: true, run: () => w.add(trait(w, c, rng.pick(ACTIVITIES))) },
      {
        run: () =>
          w.add(
            rng.pick([
              () => `one day, ${w.who(c)} met ${w.intro(h)} ${at(place)}.`,
              () => `on the way home, ${w.who(c)} saw ${w.intro(h)}.`,
              () => {
                w.add(`one day, ${w.who(c)} heard a sad sound.`);
                return `it was ${w.intro(h)}.`;
              },
            ])(),
          ),
      },
      { run: () => w.add(tr.trouble(w, h)) },
      {
        opt: true,
        run: () => w.add(w.say(h, rng.pick(["please help me!", "can you help me?", "oh no! What can I do?"]), { tone: "sad" })),
      },
      { opt: true, run: () => w.add(w.say(c, rng.pick(["don't worry. I will help you!", "I can help!", "I have an idea!"]))) },
      { run: () => w.add(tr.fix(w, c, h)) },
      {
        opt: true,
        run: () =>
          w.add(w.say(h, rng.pick([`thank you, ${call(w, c)}!`, "you are very kind!", "thank you so much!"]), { tone: "happy" })),
      },
      { run: () => w.add(ending(w, c, pair, "helping others feels good")) },
    ],
    length,
  );
};

// ---- a mistake ----------------------------------------------------------------------------------------------

const mistake: Plot = (w, { hero: c, other: h, place }, length) => {
  const rng = w.rng;
  const m = rng.pick(MISTAKES);
  const pair = { a: c, b: h };
  tell(
    rng,
    [
      { run: () => w.add(opening(w, c, place)) },
      { run: () => w.add(`one day, ${w.who(c)} ${m.did}.`) },
      { opt: true, run: () => w.add(`${w.who(c)} felt bad and wanted to hide.`) },
      { opt: true, run: () => w.add(`${w.who(c)} did not know what to say.`) },
      { run: () => w.add(`then ${w.who(c)} went to ${w.intro(h)} and told the truth.`) },
      {
        opt: true,
        run: () => w.add(w.say(c, rng.pick(["I am sorry.", "I am so sorry!", "it was my fault. I am sorry."]), { tone: "sad" })),
      },
      {
        run: () =>
          w.add(
            w.say(
              h,
              rng.pick(["thank you for telling me the truth.", "it is okay. Everyone makes mistakes.", "I am glad you told me."]),
              { answer: true },
            ),
          ),
      },
      { opt: true, run: () => w.add(`${m.fix}.`) },
      { run: () => w.add(ending(w, c, pair, "it is always best to tell the truth")) },
    ],
    length,
  );
};

// ---- a gift -------------------------------------------------------------------------------------------------

const gift: Plot = (w, { hero: c, other: h, place }, length) => {
  const rng = w.rng;
  const g = rng.pick(GIFTS);
  const pair = { a: c, b: h };
  const plural = g.it === "the flowers";
  tell(
    rng,
    [
      { run: () => w.add(opening(w, c, place)) },
      {
        n: h.kind === "adult" ? 1 : 2,
        run: () => {
          if (h.kind !== "adult") w.add(`${w.who(c)} had a friend, ${w.intro(h)}.`);
          w.add(`soon it was ${w.his(h)} birthday.`);
        },
      },
      { run: () => w.add(`${w.who(c)} wanted to give ${w.them(h)} a special gift.`) },
      { opt: true, run: () => w.add(`but ${w.who(c)} did not have any money.`) },
      { opt: true, run: () => w.add(`${w.who(c)} thought and thought, and then ${w.who(c, 1)} had an idea.`) },
      { run: () => w.add(`${w.who(c)} ${g.made}.`) },
      {
        opt: true,
        run: () => w.add(w.say(c, rng.pick(["happy birthday!", "this is for you!", "I made this for you."]), { tone: "happy" })),
      },
      { run: () => w.add(`${w.who(h)} loved ${g.it} and said ${plural ? "they were" : "it was"} the best gift ever.`) },
      { run: () => w.add(ending(w, c, pair, "the best gifts come from the heart")) },
    ],
    length,
  );
};

// ---- a good day (the short stories) -------------------------------------------------------------------------

const day: Plot = (w, { hero: c, other: h, place }, length) => {
  const rng = w.rng;
  const act = rng.pick(ACTIVITIES);
  const pair = { a: c, b: h };
  const withFriend = rng.chance(0.5);
  const treat = rng.pick(TREATS.slice(0, 10));
  tell(
    rng,
    [
      { run: () => w.add(opening(w, c, place)) },
      {
        opt: true,
        run: () =>
          w.add(rng.pick(["the sun was warm, and the sky was blue.", "it was a warm and sunny day.", "the birds were singing."])),
      },
      {
        run: () =>
          w.add(
            rng.pick([
              () => `${w.who(c)} ${act.past} ${at(place)} all morning.`,
              () => `that day, ${w.who(c)} ${act.past} for a long time.`,
              () => `${w.who(c)} spent the whole day ${act.ing}.`,
            ])(),
          ),
      },
      {
        opt: true,
        run: () =>
          w.add(
            `then ${w.who(c)} saw a ${rng.pick(["big", "little", "pretty"])} ${rng.pick(COLORS)} butterfly and ran after it.`,
          ),
      },
      { opt: true, run: () => w.add(`at lunch, ${w.who(c)} ate ${a(treat.sg)} and drank some water.`) },
      ...(withFriend
        ? [
            { opt: true, run: () => w.add(`later, ${w.who(c)} played ${rng.pick(GAMES)} with ${w.intro(h)}.`) },
            { opt: true, run: () => w.add(`when it got dark, ${w.both(pair)} walked home together.`) },
          ]
        : [{ opt: true, run: () => w.add(`when it got dark, ${w.who(c)} went home.`) }]),
      { run: () => w.add(ending(w, c, undefined, "every day can be a good day")) },
    ],
    length,
  );
};

/** Every plot, with the name a story record carries. */
export const PLOTS: Readonly<Record<string, Plot>> = { lost, wish, sharing, afraid, friend, helping, mistake, gift, day };

/** The plots that can be told in three or four sentences. */
export const SHORT_PLOTS: readonly string[] = ["lost", "day"];

export { PLACES };
