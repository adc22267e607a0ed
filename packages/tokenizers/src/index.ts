// @llmdbg/tokenizers — tokenizer.json through @huggingface/tokenizers behind the core Tokenizer interface,
// tokenizers rebuilt from GGUF metadata, and chat templates through @huggingface/jinja. Platform-neutral;
// `node.ts` adds loading from a model folder.

export {
  addedToken,
  BYTE_SYMBOL_ORDER,
  BYTE_SYMBOLS,
  bosEosTemplate,
  byteLevelBpeJson,
  sentencePieceBpeJson,
} from "./builders.js";
export {
  type ChatMessage,
  type ChatTemplate,
  ChatTemplateError,
  type ChatTemplateOptions,
  parseChatTemplate,
  readChatTemplate,
  renderChatTemplate,
} from "./chat-template.js";
export { tokenDisplay } from "./display.js";
export { HF_MODEL_TYPES, type HfTokenizer, loadHfTokenizer, type TokenIdLimit } from "./tokenizer.js";
export {
  GGUF_TOKENIZER_MODELS,
  type GgufTokenizerModel,
  ggufPreAddsBos,
  ggufPreOf,
  ggufTokenizerFiles,
  type HfTokenizerFiles,
  loadGgufTokenizer,
  mergesFromScores,
} from "./tokenizer-gguf.js";
export { GPT2_SPLIT, type TrainBpeOptions, trainByteLevelBpe } from "./train-bpe.js";
