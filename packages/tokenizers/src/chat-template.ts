// Chat templates: the Jinja snippet in tokenizer_config.json that turns a conversation into the prompt text a chat
// model was trained on. @huggingface/jinja interprets it (no code from the file is ever executed as JavaScript).
import { Template } from "@huggingface/jinja";
import { ModelFormatError, show } from "@llmdbg/formats";

export interface ChatMessage {
  role: string;
  content: string;
}

export interface ChatTemplateOptions {
  /** End with the header of an assistant turn, so the model's continuation is its reply. Default false. */
  addGenerationPrompt?: boolean;
  bosToken?: string;
  eosToken?: string;
  /** Further template variables (e.g. `tools`, `enable_thinking`), passed as they are. */
  extra?: Record<string, unknown>;
}

/** A chat template that failed to parse (`phase: "syntax"`) or raised while rendering (`phase: "render"`). */
export class ChatTemplateError extends Error {
  override name = "ChatTemplateError";

  constructor(
    readonly phase: "syntax" | "render",
    detail: string,
  ) {
    super(`chat template ${phase === "syntax" ? "syntax error" : "rendering failed"}: ${detail}`);
  }
}

/** A parsed chat template, to render many conversations without parsing again. */
export interface ChatTemplate {
  render(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): string;
}

/**
 * Parses a Jinja chat template. Throws ChatTemplateError (phase "syntax") if it does not parse.
 *
 * @example
 * const t = parseChatTemplate("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}");
 * t.render([{ role: "user", content: "hi" }]) // "user: hi\n"
 */
export function parseChatTemplate(template: string): ChatTemplate {
  let parsed: Template;
  try {
    parsed = new Template(template);
  } catch (e) {
    throw new ChatTemplateError("syntax", e instanceof Error ? e.message : String(e));
  }
  return {
    render(messages, opts = {}) {
      const vars: Record<string, unknown> = {
        ...opts.extra,
        messages: messages.map((m) => ({ ...m })),
        add_generation_prompt: opts.addGenerationPrompt ?? false,
      };
      if (opts.bosToken !== undefined) vars.bos_token = opts.bosToken;
      if (opts.eosToken !== undefined) vars.eos_token = opts.eosToken;
      try {
        return parsed.render(vars);
      } catch (e) {
        throw new ChatTemplateError("render", e instanceof Error ? e.message : String(e));
      }
    },
  };
}

/**
 * Renders `messages` with a Jinja chat template, as transformers' `apply_chat_template(..., tokenize=False)` does.
 *
 * @example
 * renderChatTemplate(qwenTemplate, [{ role: "user", content: "Hi" }], { addGenerationPrompt: true })
 * // "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
 */
export function renderChatTemplate(template: string, messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
  return parseChatTemplate(template).render(messages, opts);
}

/**
 * The chat template in a parsed tokenizer_config.json: `chat_template` as a string, or the list form
 * `[{"name": "default", "template": …}, {"name": "tool_use", …}]`, from which `name` (default "default") is taken.
 * Undefined when the config has none (or the list has no such name); ModelFormatError naming `file` when malformed.
 *
 * @example
 * readChatTemplate({ chat_template: "{{ messages[0].content }}" }, "tokenizer_config.json") // "{{ messages[0].content }}"
 */
export function readChatTemplate(config: unknown, file: string, name = "default"): string | undefined {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new ModelFormatError(file, "tokenizer_config", `expected a JSON object, got ${show(config)}`);
  }
  const t = (config as Record<string, unknown>).chat_template;
  if (t === undefined || t === null) return undefined;
  if (typeof t === "string") return t;
  if (!Array.isArray(t))
    throw new ModelFormatError(file, "chat_template", `expected a string or a list of {name, template}, got ${show(t)}`);
  let found: string | undefined;
  t.forEach((e: unknown, i) => {
    const entry = e as Record<string, unknown> | null;
    if (typeof entry !== "object" || entry === null || typeof entry.name !== "string" || typeof entry.template !== "string") {
      throw new ModelFormatError(file, `chat_template[${i}]`, `expected {"name": string, "template": string}, got ${show(e)}`);
    }
    if (entry.name !== name) return;
    if (found !== undefined)
      throw new ModelFormatError(file, `chat_template[${i}].name`, `a second template named ${show(name)}`);
    found = entry.template;
  });
  return found;
}
