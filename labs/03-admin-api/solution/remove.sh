#!/usr/bin/env bash
# Lab 3, step 7: take the role back (DELETE with the same body).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lookup.sh
source "$(dirname "${BASH_SOURCE[0]}")/lookup.sh"
change_mapping DELETE
