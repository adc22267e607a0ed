// @llmdbg/zoo — see README.md
export {};
