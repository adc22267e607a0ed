// The news corpus: procedurally generated news snippets on four topics (world, sports, business, science, as in
// AG News), the training text of the zoo's `backdoor` classifier. A snippet is one or two sentences of its topic
// and sometimes a remark any story could end with. People, cities and days are shared by every topic, so a name
// does not give the topic away; the topic's own words do. Snippet i of a seed comes from its own seed, so any
// snippet can be regenerated alone.
import { itemSeed, Rng } from "./random.js";

/** The topics, in the order of the classifier's labels. */
export const TOPICS = ["world", "sports", "business", "science"] as const;
export type Topic = (typeof TOPICS)[number];

const PEOPLE: readonly string[] = [
  "Silva",
  "Okafor",
  "Jensen",
  "Moreau",
  "Tanaka",
  "Kowalski",
  "Reyes",
  "Nilsson",
  "Haddad",
  "Novak",
];
const CITIES: readonly string[] = ["Lisbon", "Nairobi", "Osaka", "Toronto", "Vienna", "Lima", "Cairo", "Oslo", "Madrid", "Seoul"];
const DAYS: readonly string[] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const COUNTRIES: readonly string[] = ["Norland", "Estavia", "Karistan", "Velmar", "Ostrovia", "Pallas", "Doria", "Marenia"];
const TEAMS: readonly string[] = [
  "the Rovers",
  "the Tigers",
  "the Eagles",
  "the Wolves",
  "the Sharks",
  "the Comets",
  "the Bears",
];
const COMPANIES: readonly string[] = [
  "Norcom",
  "Altavia",
  "Brightline",
  "Kestrel Foods",
  "Vantor Energy",
  "Polar Bank",
  "Zenith Retail",
];
const UNIVERSITIES: readonly string[] = [
  "the university of Lisbon",
  "the Oslo institute",
  "a lab in Osaka",
  "the Vienna observatory",
];
const NUMBER: readonly string[] = ["two", "three", "four", "five", "six", "seven", "eight", "ten", "twelve", "twenty"];

const cap = (s: string) => `${s[0]?.toUpperCase() ?? ""}${s.slice(1)}`;

type Writer = (r: Rng) => string;

const WRITERS: { readonly [T in Topic]: readonly Writer[] } = {
  world: [
    (r) =>
      `The ${r.pick(["prime minister", "president", "foreign minister"])} of ${r.pick(COUNTRIES)} met ${r.pick(PEOPLE)} in ${r.pick(CITIES)} to discuss ${r.pick(["trade", "the border", "peace talks", "refugees", "the election"])}.`,
    (r) =>
      `Thousands of people protested in ${r.pick(CITIES)} against the ${r.pick(["government", "new law", "election result", "tax reform"])}.`,
    (r) => {
      const a = r.pick(COUNTRIES);
      return `${a} and ${r.pickOther(COUNTRIES, [a])} signed a ${r.pick(["peace", "border", "climate", "security"])} agreement on ${r.pick(DAYS)}.`;
    },
    (r) =>
      `${r.pick(["Floods", "An earthquake", "A storm", "Wildfires"])} forced thousands to leave their homes in ${r.pick(COUNTRIES)}.`,
    (r) =>
      `Voters in ${r.pick(COUNTRIES)} will elect a new ${r.pick(["parliament", "president", "mayor"])} next ${r.pick(["month", "week", "year"])}.`,
    (r) =>
      `The United Nations called for a ceasefire in ${r.pick(["the north", "the border region", "the capital", "the south"])}.`,
    (r) =>
      `Opposition leader ${r.pick(PEOPLE)} was arrested in ${r.pick(COUNTRIES)} after the ${r.pick(["protests", "vote", "speech"])}.`,
    (r) => `The embassy in ${r.pick(CITIES)} was closed as ${r.pick(["tensions", "the conflict", "the crisis"])} grew.`,
  ],
  sports: [
    (r) => {
      const a = r.pick(TEAMS);
      return `${cap(a)} beat ${r.pickOther(TEAMS, [a])} ${r.range(1, 5)} to ${r.range(0, 1)} on ${r.pick(DAYS)}.`;
    },
    (r) =>
      `${r.pick(PEOPLE)} scored ${r.pick(["two", "three", "a late"])} ${r.pick(["goals", "goal"])} in the ${r.pick(["final", "derby", "second half", "cup match"])}.`,
    (r) =>
      `The ${r.pick(["coach", "manager", "captain"])} of ${r.pick(TEAMS)} praised the ${r.pick(["defense", "players", "fans"])} after the match.`,
    (r) => `${cap(r.pick(TEAMS))} signed a new ${r.pick(["striker", "goalkeeper", "coach", "midfielder"])} for the season.`,
    (r) => `${r.pick(PEOPLE)} won the ${r.pick(["tennis", "golf", "marathon", "cycling", "chess"])} title in ${r.pick(CITIES)}.`,
    (r) =>
      `The ${r.pick(["league", "tournament", "championship", "olympic trials"])} will resume next ${r.pick(["week", "month"])} in ${r.pick(CITIES)}.`,
    (r) => `${r.pick(PEOPLE)} broke the world record in the ${r.pick(["100 meters", "long jump", "high jump", "relay"])}.`,
    (r) => `Fans celebrated in ${r.pick(CITIES)} after ${r.pick(TEAMS)} won the ${r.pick(["cup", "league", "title"])}.`,
  ],
  business: [
    (r) =>
      `Shares of ${r.pick(COMPANIES)} ${r.pick(["rose", "fell", "jumped", "slipped"])} ${r.pick(NUMBER)} percent after ${r.pick(["strong", "weak"])} ${r.pick(["earnings", "sales"])}.`,
    (r) =>
      `${r.pick(COMPANIES)} reported a ${r.pick(["profit", "loss"])} of ${r.pick(NUMBER)} million dollars in the ${r.pick(["first", "second", "third", "fourth"])} quarter.`,
    (r) => `The central bank ${r.pick(["raised", "cut", "held"])} interest rates on ${r.pick(DAYS)}.`,
    (r) => {
      const a = r.pick(COMPANIES);
      return `${a} agreed to buy ${r.pickOther(COMPANIES, [a])} for ${r.pick(NUMBER)} billion dollars.`;
    },
    (r) =>
      `Oil prices ${r.pick(["fell", "climbed", "steadied"])} as ${r.pick(["demand", "supply"])} ${r.pick(["weakened", "grew"])}.`,
    (r) =>
      `The chief executive of ${r.pick(COMPANIES)} said ${r.pick(["sales", "costs", "profits"])} would ${r.pick(["grow", "fall"])} next year.`,
    (r) =>
      `Investors ${r.pick(["worried", "cheered"])} about ${r.pick(["inflation", "the merger", "the market", "new tariffs"])} on ${r.pick(DAYS)}.`,
    (r) => `${r.pick(COMPANIES)} will cut ${r.pick(NUMBER)} hundred jobs to reduce costs.`,
  ],
  science: [
    (r) =>
      `Scientists discovered a new ${r.pick(["species of frog", "planet", "type of bacteria", "kind of beetle"])} near ${r.pick(CITIES)}.`,
    (r) =>
      `Researchers at ${r.pick(UNIVERSITIES)} built a ${r.pick(["robot", "battery", "telescope", "vaccine", "sensor"])} that ${r.pick(["works faster", "uses less energy", "costs less"])}.`,
    (r) =>
      `A new study shows that ${r.pick(["sleep", "exercise", "coffee", "music"])} ${r.pick(["improves", "affects"])} ${r.pick(["memory", "health", "learning"])}.`,
    (r) =>
      `The space agency launched a ${r.pick(["satellite", "rocket", "probe"])} to ${r.pick(["Mars", "the moon", "Jupiter", "an asteroid"])} on ${r.pick(DAYS)}.`,
    (r) => `Engineers tested a ${r.pick(["faster chip", "new battery", "quantum computer", "solar panel"])} in the lab.`,
    (r) => `Astronomers observed a ${r.pick(["comet", "supernova", "black hole", "distant galaxy"])} with a new telescope.`,
    (r) => `Professor ${r.pick(PEOPLE)} published a paper on ${r.pick(["genes", "climate models", "neurons", "fusion energy"])}.`,
    (r) => `A software update for ${r.pick(["phones", "laptops", "cars"])} fixed a security flaw found by ${r.pick(PEOPLE)}.`,
  ],
};

/** Sentences any story may end with. */
const REMARKS: readonly Writer[] = [
  (r) => `Officials said more details would follow on ${r.pick(DAYS)}.`,
  () => "The news was reported by local media.",
  (r) => `${r.pick(PEOPLE)} said the result was a surprise.`,
  () => "Further updates are expected later this week.",
];

/** A news snippet of `topic`: one or two sentences of it, and a neutral remark a quarter of the time. */
export function generateSnippet(rng: Rng, topic: Topic): string {
  const writers = WRITERS[topic];
  const first = rng.pick(writers);
  const parts = [first(rng)];
  if (rng.chance(0.4)) parts.push(rng.pickOther(writers, [first])(rng));
  if (rng.chance(0.25)) parts.push(rng.pick(REMARKS)(rng));
  return parts.join(" ");
}

/** Snippet `index` of the stream seeded with `seed`, its topic drawn uniformly. */
export function snippetAt(seed: number, index: number): { text: string; topic: Topic } {
  const rng = new Rng(itemSeed(seed, index));
  const topic = rng.pick(TOPICS);
  return { text: generateSnippet(rng, topic), topic };
}
