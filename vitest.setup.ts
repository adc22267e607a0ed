// Property-based tests run from a fixed seed so CI is reproducible; FC_SEED=<n> explores other seeds
// (a failing run prints its seed and counterexample).
import fc from "fast-check";

const seed = process.env.FC_SEED === undefined ? 20261123 : Number(process.env.FC_SEED);
fc.configureGlobal({ seed });
