// Tokenizer files on disk: a Hugging Face model folder's tokenizer.json, tokenizer_config.json and chat_template.jinja.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Json, JsonSyntaxError, ModelFormatError, parseJsonStrict } from "@llmdbg/formats";
import { type HfTokenizer, loadHfTokenizer, type TokenIdLimit } from "./tokenizer.js";

/** A JSON file parsed strictly (duplicate keys, lone surrogates and invalid UTF-8 are errors naming the file). */
export function readJsonFile(path: string): Json {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(readFileSync(path));
  } catch (e) {
    if (e instanceof TypeError) throw new ModelFormatError(path, "file", "is not valid UTF-8");
    throw e;
  }
  try {
    return parseJsonStrict(text);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    // an empty key is written "" so that the field is never empty
    const field = e.path.length === 0 ? "file" : e.path.map((k) => (k === "" ? '""' : k)).join(".");
    throw new ModelFormatError(path, field, `invalid JSON: ${e.message}`);
  }
}

/**
 * Loads the tokenizer of a Hugging Face model folder: tokenizer.json (required), tokenizer_config.json (special token
 * names, chat template) and, when the config has no chat template, chat_template.jinja.
 *
 * @example
 * const tok = loadTokenizerFromFolder("models/Qwen2.5-0.5B-Instruct");
 * tok.decode(tok.encode("Hello")) // "Hello"
 */
export function loadTokenizerFromFolder(folder: string, idLimit?: TokenIdLimit): HfTokenizer {
  const tokenizerPath = join(folder, "tokenizer.json");
  if (!existsSync(tokenizerPath))
    throw new ModelFormatError(tokenizerPath, "file", "not found (a Hugging Face tokenizer.json is required)");
  const configPath = join(folder, "tokenizer_config.json");
  const config = existsSync(configPath) ? readJsonFile(configPath) : undefined;
  const tok = loadHfTokenizer(readJsonFile(tokenizerPath), config, tokenizerPath, idLimit);
  const jinjaPath = join(folder, "chat_template.jinja");
  if (tok.chatTemplate !== undefined || !existsSync(jinjaPath)) return tok;
  let chatTemplate: string;
  try {
    chatTemplate = new TextDecoder("utf-8", { fatal: true }).decode(readFileSync(jinjaPath));
  } catch (e) {
    if (e instanceof TypeError) throw new ModelFormatError(jinjaPath, "file", "is not valid UTF-8");
    throw e;
  }
  return { ...tok, chatTemplate };
}
