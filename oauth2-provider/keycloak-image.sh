#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..  # the sourced files are found from the repository root
# Builds the playground's Keycloak image from the pinned distribution (oauth2-provider/image/
# Containerfile), with Keycloak's build step run for the playground's build-time options, so
# the container starts with `start --optimized`. No image registry needed where Debian's
# packages can be reached: the base is made from them with mmdebstrap.
#
#   oauth2-provider/keycloak-image.sh name     print the image for the current options
#                                              (built or not; the engine's own spelling)
#   oauth2-provider/keycloak-image.sh check    exit 0 when the image is there or can be built
#                                              here (one line says which), else 1 with why
#   oauth2-provider/keycloak-image.sh build    build it unless it is there (once per pinned
#                                              version, recipe and set of build-time options)
#   oauth2-provider/keycloak-image.sh base     only make and import the base
#
# The tag is <version>-<key>: the key hashes the pinned version, keycloak.conf, the
# build-time options (KC_SPI_X509CERT_LOOKUP__PROVIDER, KC_DB, ...: scripts/lib.sh), the
# recipe (Containerfile and this script, which stages the context) and the base, so a change to any of them builds anew and nothing else does.
# CONTAINER_ENGINE=docker|podman chooses the engine. KEYCLOAK_BASE_IMAGE: a base with bash and
# Java 17+ from a registry (e.g. docker.io/library/eclipse-temurin:21-jre) instead of Debian's
# packages. The base tarball is cached under KEYCLOAK_CACHE_DIR/images.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "${SCRIPT_DIR}/../scripts/env.sh"
# shellcheck source=scripts/keycloak.env
source "${SCRIPT_DIR}/../scripts/keycloak.env"
# shellcheck source=scripts/lib.sh
source "${SCRIPT_DIR}/../scripts/lib.sh"

RECIPE="${SCRIPT_DIR}/image/Containerfile"
KEYCLOAK_CONF="${SCRIPT_DIR}/keycloak.conf"
# The base made from Debian's packages: bash, Java 17 and the CA certificates. Keep the man
# pages (the java alternatives need /usr/share/man).
BASE_SUITE="bookworm"
BASE_PACKAGES="openjdk-17-jre-headless,ca-certificates"
BASE_NAME="${KEYCLOAK_LOCAL_IMAGE}-base"
BASE_TAG="${BASE_SUITE}-$(printf '%s %s' "${BASE_SUITE}" "${BASE_PACKAGES}" | sha256sum | cut -c1-8)"
IMAGES_DIR="${KEYCLOAK_CACHE_DIR}/images"
ENGINE=""
STAGING=""

usage() {
  print_header "${BASH_SOURCE[0]}" 3 21
}

cleanup() {
  local status=$?
  [[ -z "${STAGING}" ]] || rm -rf -- "${STAGING}"
  exit "${status}"
}

require_engine() {
  ENGINE="$(container_engine)" || die "no container engine answers: $(no_engine_reason)"
}

# Podman names a local image localhost/NAME; Docker plain NAME. Both accept their spelling.
local_ref() {
  if [[ "$(basename "${ENGINE}")" == podman ]]; then
    printf 'localhost/%s' "$1"
  else
    printf '%s' "$1"
  fi
}

base_ref() {
  if [[ -n "${KEYCLOAK_BASE_IMAGE:-}" ]]; then
    printf '%s' "${KEYCLOAK_BASE_IMAGE}"
  else
    local_ref "${BASE_NAME}:${BASE_TAG}"
  fi
}

# 1 when the runners' bootstrap admin is the playground's default (scripts/env.sh), whose
# master realm the image's database template holds; else 0: no template (see Containerfile).
db_template() {
  if [[ "${KC_BOOTSTRAP_ADMIN_USERNAME}" == admin && "${KC_BOOTSTRAP_ADMIN_PASSWORD}" == admin ]]; then
    printf 1
  else
    printf 0
  fi
}

image_ref() {
  local key
  key="$(keycloak_build_key "${RECIPE}" "${BASH_SOURCE[0]}" <(printf 'base %s\ndb-template %s\njava-opts %s\n' "${KEYCLOAK_BASE_IMAGE:-${BASE_NAME}:${BASE_TAG}}" "$(db_template)" "${KEYCLOAK_JAVA_OPTS}"))"
  local_ref "${KEYCLOAK_LOCAL_IMAGE}:${KEYCLOAK_VERSION}-${key}"
}

present() {
  "${ENGINE}" image inspect "$1" >/dev/null 2>&1
}

# The base, from Debian's packages: mmdebstrap into a tarball (cached), then imported.
ensure_base() {
  local ref
  ref="$(base_ref)"
  if present "${ref}"; then
    info "base image ${ref} is present"
    return 0
  fi
  if [[ -n "${KEYCLOAK_BASE_IMAGE:-}" ]]; then
    info "pulling the base ${ref}"
    "${ENGINE}" pull "${ref}" || die "could not pull the base ${ref}: unset KEYCLOAK_BASE_IMAGE to make one from Debian's packages (mmdebstrap)"
    return 0
  fi
  local tarball="${IMAGES_DIR}/${BASE_NAME}-${BASE_TAG}.tar" started=${SECONDS}
  if [[ ! -s "${tarball}" ]]; then
    command -v mmdebstrap >/dev/null 2>&1 ||
      die "no base image: mmdebstrap is not installed to make one from Debian's packages (Debian: apt-get install mmdebstrap), and KEYCLOAK_BASE_IMAGE names no registry base (e.g. docker.io/library/eclipse-temurin:21-jre)"
    mkdir -p "${IMAGES_DIR}"
    info "making the base from Debian's packages: mmdebstrap ${BASE_SUITE} with ${BASE_PACKAGES} (about a minute, once)"
    local partial="${IMAGES_DIR}/partial-$$.tar"
    if ! mmdebstrap --quiet --variant=apt "--include=${BASE_PACKAGES}" "${BASE_SUITE}" "${partial}" >&2; then
      rm -f -- "${partial}"
      die "mmdebstrap failed (are Debian's mirrors reachable? its message is above)"
    fi
    mv "${partial}" "${tarball}"
    info "base tarball made in $((SECONDS - started)) s: ${tarball} ($(du -m "${tarball}" | cut -f1) MB)"
  fi
  started=${SECONDS}
  "${ENGINE}" import --change 'CMD ["/bin/bash"]' "${tarball}" "${BASE_NAME}:${BASE_TAG}" >/dev/null ||
    die "${ENGINE} import ${tarball} failed"
  info "base image ${ref} imported in $((SECONDS - started)) s"
}

# The build context: the unpacked distribution (owned 1000:0 through COPY --chown, modes
# set here: g+rwX as the official image has), keycloak.conf and the build-time options.
stage_context() {
  local dist="${KEYCLOAK_CACHE_DIR}/dist/keycloak-${KEYCLOAK_VERSION}"
  if [[ ! -x "${dist}/bin/kc.sh" ]]; then
    "${SCRIPT_DIR}/keycloak-native.sh" fetch >&2 || die "could not get the Keycloak ${KEYCLOAK_VERSION} distribution (its message is above)"
  fi
  STAGING="$(mktemp -d)"
  cp -a "${dist}" "${STAGING}/keycloak"
  # A fresh data/ (owned 1000:0 like the rest): realm files copied into data/import by the
  # runners (testcontainers makes missing parents root-owned) must not take it from uid 1000.
  rm -rf -- "${STAGING}/keycloak/data"
  mkdir -p "${STAGING}/keycloak/data/import"
  cp "${KEYCLOAK_CONF}" "${STAGING}/keycloak/conf/keycloak.conf"
  keycloak_build_options >"${STAGING}/keycloak/conf/build-options"
  chmod -R g+rwX,o-w "${STAGING}/keycloak"
  cp "${RECIPE}" "${STAGING}/Containerfile"
}

cmd_build() {
  require_engine
  local ref started
  ref="$(image_ref)"
  if present "${ref}"; then
    info "image ${ref} is present (${ENGINE}): nothing to build"
    return 0
  fi
  started=${SECONDS}
  ensure_base
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  stage_context
  local options
  options="$(tr '\n' ' ' <"${STAGING}/keycloak/conf/build-options")"
  info "building ${ref} (${ENGINE}) from the pinned distribution, build options: ${options:-none beyond keycloak.conf}"
  # --rm/--force-rm: no intermediate container stays, even when a step fails.
  "${ENGINE}" build --rm --force-rm --file "${STAGING}/Containerfile" \
    --build-arg "BASE=$(base_ref)" --build-arg "DB_TEMPLATE=$(db_template)" \
    --build-arg "JAVA_OPTS=${KEYCLOAK_JAVA_OPTS}" \
    --label "org.oauth2-playbook.image=keycloak" \
    --label "org.oauth2-playbook.keycloak-version=${KEYCLOAK_VERSION}" \
    --tag "${ref#localhost/}" "${STAGING}" >&2 ||
    die "building ${ref} failed (the engine's message is above)"
  info "built ${ref} in $((SECONDS - started)) s"
}

cmd_check() {
  require_engine
  local ref
  ref="$(image_ref)"
  if present "${ref}"; then
    echo "the image ${ref} is built"
    return 0
  fi
  if [[ -z "${KEYCLOAK_BASE_IMAGE:-}" ]] && ! present "$(base_ref)" &&
    [[ ! -s "${IMAGES_DIR}/${BASE_NAME}-${BASE_TAG}.tar" ]] && ! command -v mmdebstrap >/dev/null 2>&1; then
    die "the image ${ref} is not built, and cannot be here: no mmdebstrap to make its base from Debian's packages (apt-get install mmdebstrap), and no KEYCLOAK_BASE_IMAGE"
  fi
  "${SCRIPT_DIR}/keycloak-native.sh" check-dist >/dev/null 2>&1 ||
    die "the image ${ref} is not built, and cannot be here: $("${SCRIPT_DIR}/keycloak-native.sh" check-dist 2>&1 >/dev/null | sed 's/^ERROR //')"
  echo "the image ${ref} is not built yet: the start builds it from the pinned distribution (a few minutes, once)"
}

main() {
  case "${1:-}" in
  name)
    require_engine
    image_ref
    echo
    ;;
  check) cmd_check ;;
  build) cmd_build ;;
  base)
    require_engine
    ensure_base
    ;;
  -h | --help | help) usage ;;
  *) die "unknown or missing command '${1:-}': name, check, build or base (try --help)" ;;
  esac
}

main "$@"
