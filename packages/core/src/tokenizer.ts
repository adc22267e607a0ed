// The one interface every tokenizer implements (Hugging Face tokenizer.json, GGUF metadata): core and the
// tools above it (generation, datasets, the UI) need text <-> ids, never a file format.

/** Text ↔ token ids. `encode` and `decode` follow the Hugging Face `tokenizers` semantics of the loaded file. */
export interface Tokenizer {
  /** Ids for `text`; `addSpecialTokens` (default true) applies the file's post-processor (e.g. BERT's [CLS] … [SEP]). */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  /** Text for `ids`; `skipSpecialTokens` (default false) drops special tokens. Throws RangeError for an id not in the vocabulary. */
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** The raw vocabulary strings of `ids` (e.g. `Ġworld`, `##ing`, `▁the`, `<0xF0>`), for display. */
  tokenStrings(ids: readonly number[]): string[];
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  /** One more than the largest id (model vocabulary and added tokens): the rows an embedding matrix needs. */
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly padTokenId: number | undefined;
  readonly unkTokenId: number | undefined;
}
