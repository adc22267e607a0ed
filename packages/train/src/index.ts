// @llmdbg/train — see README.md
export {};
