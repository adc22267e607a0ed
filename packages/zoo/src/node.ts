// Node entry of @llmdbg/zoo
export * from "./index.js";
export { claimsTable, type TrainZooOptions, type TrainZooResult, trainZoo, verifyZoo } from "./zoo-node.js";
