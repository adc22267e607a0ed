#!/bin/sh
# `npm run example`: a terminal tour of llmdbg on the zoo's stories model (a 4-layer GPT-2 that llmdbg trained itself on
# generated children's stories; zoo/stories/README.md is its card). Each step is one llmdbg command, printed
# before it runs, so that it can be rerun, changed or pointed at another model.
set -e
M=zoo/stories
PROMPT='Once upon a time, there was a boy named Max. One day, Max was sad because he could not find'
if [ -t 1 ]; then B='\033[1m' N='\033[0m'; else B='' N=''; fi
# prints the command as one would type it (arguments with spaces quoted), then runs it
step() {
  line='$'
  for a in "$@"; do
    case "$a" in *' '* | '') line="$line '$a'" ;; *) line="$line $a" ;; esac
  done
  printf "\n${B}%s${N}\n" "$line"
  "$@"
}
printf "${B}llmdbg tour${N}: the stories model (%s), what it writes and why.\n" "$M"
step llmdbg generate "$M" --text 'Once upon a time, there was a little' --max-new 60 --temperature 0
step llmdbg run "$M" --text "$PROMPT" --top-k 3
step llmdbg attention "$M" --text "$PROMPT" --layers 0,-1
step llmdbg attribute "$M" --text "$PROMPT" --method ig --target ' his' --foil ' her'
printf '\nThe pronoun " he" is what makes the model prefer " his" to " her" (integrated gradients, above).\n'
printf 'More: llmdbg --help, and every command with --help; llmdbg zoo list for the other zoo models.\n'
