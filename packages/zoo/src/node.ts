// Node entry of @llmdbg/zoo
export * from "./index.js";
export {
  claimsTable,
  type TrainZooOptions,
  type TrainZooResult,
  trainZoo,
  verifyZoo,
  writeZooCard,
  type ZooTraining,
} from "./zoo-node.js";
