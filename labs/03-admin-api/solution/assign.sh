#!/usr/bin/env bash
# Lab 3, step 5: give the client's service-account user the realm role.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lookup.sh
source "$(dirname "${BASH_SOURCE[0]}")/lookup.sh"
change_mapping POST
