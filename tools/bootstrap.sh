#!/usr/bin/env bash
# Installs this project's offline toolchain into a cache outside the checkout and
# writes $ECS_STATE_CACHE/env.sh. Safe to run again: every step first looks for its
# result in the cache (keyed by version) and does nothing when it is there.
#
#   tools/bootstrap.sh [STEP...]        default: all
#
# Steps:
#   venv            Python 3.11 environment from tools/requirements.txt (+ checkov's own)
#   tofu            OpenTofu, built from source with the Go toolchain
#   terraform       HashiCorp Terraform for the tests' Terraform tier: TERRAFORM_BIN, else
#                   the user's own terraform when it meets versions.tf, else built from source
#   providers       hashicorp/aws, built from source into the filesystem mirror that
#                   env.sh's CLI configuration points at
#   dynamodb-local  DynamoDB Local and its native SQLite library, from Maven Central
#   event-ruler     EventBridge's matching engine (event-ruler), from Maven Central, that
#                   the module tests use to check the rule's event pattern
#   docs            terraform-docs
#   lint            tflint, whose bundled Terraform ruleset `make lint` runs
#   rie             the Lambda Runtime Interface Emulator (Go module), under which the demo
#                   and tests/pipeline run the function's zip
#   all             venv tofu terraform providers dynamodb-local event-ruler rie docs lint
#   mutate          mutmut for `make mutate`, in its own venv (not part of all)
#   floors          the lowest OpenTofu and Terraform versions.tf admits, for
#                   tests/floors (`make test` runs `all floors`; not part of all)
#   env             only (re)write env.sh
#   status          print what is installed, build nothing
#
# Environment:
#   ECS_STATE_CACHE          cache root (default ~/.cache/ecs-state)
#   TF_BIN                   use this tofu or terraform binary instead of building OpenTofu
#   TERRAFORM_BIN            the Terraform CLI for the Terraform tier (default: terraform
#                            from PATH when it is >= versions.tf's minimum, else built)
#   ECS_STATE_USE_SYSTEM_TF  1: use TF_BIN, or tofu/terraform from PATH, as it is: no
#                            OpenTofu build, no provider build, no CLI configuration (the
#                            CLI installs providers from the public registry itself)
#                            0: build both. auto (default): 1 when tofu/terraform is on
#                            PATH and its public registry answers within 5 s, else 0
#   ECS_STATE_PYTHON         Python 3.11 interpreter for the venv (default: python3.11)
#   ECS_STATE_AWS_PROVIDER   trimmed (default): build hashicorp/aws with only the services
#                            in tools/go/aws/services.txt; full: build all of it
#
# Platforms: Linux and macOS, each on x86_64 or arm64; anything else stops with a message.
# Needs: bash, Go 1.26 or newer, Java 17 and Maven, Python 3.11, flock, sha256sum.
# See tools/README.md for what is built, where it goes and how long it takes.
set -euo pipefail

TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${ECS_STATE_CACHE:-$HOME/.cache/ecs-state}

# ---- pins (a new version is a new cache key) --------------------------------------
# OpenTofu, Terraform and terraform-docs are pinned in the build-only Go modules
# tools/go/*/go.mod.
AWS_PROVIDER_MODULE=github.com/hashicorp/terraform-provider-aws
# main at 2026-06-02, just after the v6.47.0 tag; its version/VERSION says 6.47.1.
# The module path has no /v6 suffix, so Go addresses the commit by a pseudo-version.
AWS_PROVIDER_PSEUDO_VERSION=v1.60.1-0.20260602190131-5f2286d6d836
AWS_PROVIDER_VERSION=6.47.1
DYNAMODB_LOCAL_VERSION=2.6.1
EVENT_RULER_VERSION=1.8.1
RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator
# A commit of main, by pseudo-version: the module proxy lists no tagged version of it.
RIE_PSEUDO_VERSION=v0.0.0-20261030222936-bef5c4ba774d
MAVEN_DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
# tflint bundles its Terraform ruleset, so the tflint pin pins the rules too.
TFLINT_VERSION=v0.64.0
PYTHON_VERSION=3.11
PIP_VERSION=26.3

MIRROR_HOSTS=(registry.opentofu.org registry.terraform.io)

# ---- helpers ----------------------------------------------------------------------
say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() {
  printf 'bootstrap: error: %s\n' "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

# The platform every built or downloaded artifact is chosen for, named as Go names it
# (GOOS_GOARCH): `go env` when Go is there, since that is what the Go builds target, else
# uname. The toolchain is known to build and run on these four only.
SUPPORTED_PLATFORMS="linux_amd64 linux_arm64 darwin_amd64 darwin_arm64"
platform() {
  local os arch
  os=$(go env GOOS 2>/dev/null) || os=
  arch=$(go env GOARCH 2>/dev/null) || arch=
  if [[ -z $os || -z $arch ]]; then
    os=$(uname -s | tr '[:upper:]' '[:lower:]')
    case $(uname -m) in
      x86_64 | amd64) arch=amd64 ;;
      aarch64 | arm64) arch=arm64 ;;
      *) arch=$(uname -m) ;;
    esac
  fi
  case " $SUPPORTED_PLATFORMS " in
    *" ${os}_$arch "*) printf '%s_%s\n' "$os" "$arch" ;;
    *) die "unsupported platform ${os}_$arch: the toolchain is built for $SUPPORTED_PLATFORMS only (Linux or macOS on x86_64 or arm64)" ;;
  esac
}

# Runs "$@" with its output in $CACHE/logs/<name>.log, measured by /usr/bin/time -v
# when it is installed, and appends the wall time to $CACHE/logs/timings.log.
run_logged() {
  local name=$1
  shift
  local log="$CACHE/logs/$name.log" start end status=0
  mkdir -p "$CACHE/logs"
  start=$(date +%s)
  say "$name: running (log: $log)"
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -v "$@" >"$log" 2>&1 || status=$?
  else
    "$@" >"$log" 2>&1 || status=$?
  fi
  end=$(date +%s)
  printf '%s %s %ss exit=%s\n' "$(date -u +%FT%TZ)" "$name" "$((end - start))" "$status" \
    >>"$CACHE/logs/timings.log"
  if ((status != 0)); then
    tail -n 30 "$log" >&2
    die "$name failed (exit $status); full log: $log"
  fi
  say "$name: done in $((end - start)) s"
}

# Serialises a step across concurrent bootstrap runs: the second one waits, then
# finds the first one's result in the cache.
with_lock() {
  local name=$1 fd
  shift
  mkdir -p "$CACHE/locks"
  if have flock; then
    exec {fd}>"$CACHE/locks/$name.lock"
    flock "$fd"
    "$@"
    exec {fd}>&-
  else
    "$@"
  fi
}

# The version a tools/go/<dir>/go.mod requires for <module>.
pinned_version() {
  local gomod="$TOOLS_DIR/go/$1/go.mod" module=$2
  awk -v m="$module" '($1 == "require" && $2 == m) { print $3; exit } ($1 == m) { print $2; exit }' \
    "$gomod"
}

need_go() {
  have go || die "Go is needed to build $1 (Go 1.26 or newer; the machine's toolchain, none is downloaded)"
}

# Builds one Go command, every Go-built CLI of the toolchain alike: name, version,
# package, output path, ldflags. The output path holds the version, so a build found
# there is never redone. When tools/go/<name>/ is a build-only module (see
# tools/README.md), it is built there, in a copy under $CACHE/build so the checkout stays
# untouched, with that module's go.mod and go.sum as the pins; otherwise
# `go install <package>@<version>`. Go builds here never fetch a toolchain
# (GOTOOLCHAIN=local: that would be a prebuilt binary).
go_cli() {
  local name=$1 version=$2 package=$3 out=$4 ldflags=${5:--s -w} work
  if [[ -x $out ]]; then
    say "$name: $out (cached)"
    return 0
  fi
  need_go "$name"
  work="$CACHE/build/$name-$version"
  rm -rf "$work"
  mkdir -p "$work" "$(dirname "$out")"
  if [[ -f $TOOLS_DIR/go/$name/go.mod ]]; then
    cp "$TOOLS_DIR/go/$name/go.mod" "$TOOLS_DIR/go/$name/go.sum" "$TOOLS_DIR/go/$name/tools.go" "$work/"
    (
      cd "$work"
      run_logged "$name-$version" env GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 \
        go build -trimpath -ldflags "$ldflags" -o "$out.tmp" "$package"
    )
  else
    run_logged "$name-$version" env GOTOOLCHAIN=local GOFLAGS= CGO_ENABLED=0 GOBIN="$work" \
      go install -trimpath -ldflags "$ldflags" "$package@$version"
    mv -f "$work/$(basename "$package")" "$out.tmp"
  fi
  mv -f "$out.tmp" "$out"
  rm -rf "$work"
  say "$name: $out"
}

link_bin() {
  mkdir -p "$CACHE/bin"
  ln -sfn "$2" "$CACHE/bin/$1"
}

system_tf() { [[ $USE_SYSTEM_TF == 1 ]]; }

# ECS_STATE_USE_SYSTEM_TF: 1 or 0 decide; auto (the default) uses the user's own tofu or
# terraform when there is one and its public registry answers, else builds everything.
# TF_BIN alone keeps the local mirror, as documented.
USE_SYSTEM_TF=0
resolve_tf_choice() {
  local cli host
  case ${ECS_STATE_USE_SYSTEM_TF:-auto} in
    1 | 0) USE_SYSTEM_TF=$ECS_STATE_USE_SYSTEM_TF ;;
    auto)
      [[ -z ${TF_BIN:-} ]] || return 0
      cli=$(user_tf_bin) || return 0
      host=${MIRROR_HOSTS[0]}
      [[ $(basename "$cli") != terraform* ]] || host=${MIRROR_HOSTS[1]}
      if have curl && curl -fsS --max-time 5 -o /dev/null "https://$host/.well-known/terraform.json" 2>/dev/null; then
        USE_SYSTEM_TF=1
        say "tofu: $cli is on PATH and $host answers: using both as they are (ECS_STATE_USE_SYSTEM_TF=0 builds instead)"
      else
        say "tofu: $cli is on PATH but $host does not answer: building the CLI and providers"
      fi
      ;;
    *) die "ECS_STATE_USE_SYSTEM_TF must be 1, 0 or auto, not '$ECS_STATE_USE_SYSTEM_TF'" ;;
  esac
}

# ---- venv -------------------------------------------------------------------------
find_python() {
  local candidate
  for candidate in "${ECS_STATE_PYTHON:-}" "python$PYTHON_VERSION" python3; do
    if [[ -z $candidate ]] || ! have "$candidate"; then
      continue
    fi
    if "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != (${PYTHON_VERSION/./, }))" \
      2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  die "Python $PYTHON_VERSION is needed for the venv (set ECS_STATE_PYTHON to its path)"
}

venv_key() { # requirements file -> cache key
  { cat "$1"; printf 'python %s pip %s\n' "$PYTHON_VERSION" "$PIP_VERSION"; } |
    sha256sum | cut -c1-16
}
venv_path() { printf '%s/venv/py%s-%s\n' "$CACHE" "$PYTHON_VERSION" "$(venv_key "$TOOLS_DIR/requirements.txt")"; }
checkov_venv_path() {
  printf '%s/venv-checkov/py%s-%s\n' "$CACHE" "$PYTHON_VERSION" \
    "$(venv_key "$TOOLS_DIR/requirements-checkov.txt")"
}

make_venv() { # target requirements
  local target=$1 requirements=$2 python
  if [[ -f $target/.complete ]]; then
    say "venv: $target (cached)"
    return 0
  fi
  python=$(find_python)
  rm -rf "$target"
  mkdir -p "$(dirname "$target")"
  "$python" -m venv "$target"
  # --no-deps: the file pins every package, so nothing unpinned can slip in, and
  # `pip check` proves the pins are complete and consistent.
  # shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
  run_logged "$(basename "$(dirname "$target")")-$(basename "$target")" bash -c '
    set -euo pipefail
    "$1/bin/python" -m pip install --quiet --disable-pip-version-check "pip==$2"
    "$1/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$3"
    "$1/bin/python" -m pip check
  ' _ "$target" "$PIP_VERSION" "$requirements"
  touch "$target/.complete"
  say "venv: $target"
}

step_venv() {
  local venv checkov_venv
  venv=$(venv_path)
  checkov_venv=$(checkov_venv_path)
  with_lock venv make_venv "$venv" "$TOOLS_DIR/requirements.txt"
  with_lock venv-checkov make_venv "$checkov_venv" "$TOOLS_DIR/requirements-checkov.txt"
  ln -sfn "$checkov_venv/bin/checkov" "$venv/bin/checkov"
}

# mutmut runs the tests in its own process: its venv holds the test pins too, so its key
# covers both files.
mutate_venv_path() {
  printf '%s/venv-mutate/py%s-%s\n' "$CACHE" "$PYTHON_VERSION" \
    "$(venv_key <(cat "$TOOLS_DIR/requirements.txt" "$TOOLS_DIR/requirements-mutate.txt"))"
}

step_mutate() {
  local venv
  venv=$(mutate_venv_path)
  with_lock venv-mutate make_venv "$venv" "$TOOLS_DIR/requirements-mutate.txt"
  link_bin mutmut "$venv/bin/mutmut"
}

# ---- OpenTofu / Terraform ----------------------------------------------------------
# OpenTofu and Terraform come from their build-only modules in tools/go/<dir>/, each
# stamped as a release (version.dev=no) and cached as <cli>/<version>/<binary>. The
# <cli>-floor modules pin the lowest releases versions.tf admits (tests/floors).
tf_cli() { # dir -> "module package binary" of the CLI it builds
  case $1 in
    opentofu*) echo github.com/opentofu/opentofu github.com/opentofu/opentofu/cmd/tofu tofu ;;
    terraform*) echo github.com/hashicorp/terraform github.com/hashicorp/terraform terraform ;;
    *) die "no CLI is built from tools/go/$1" ;;
  esac
}
tf_cli_path() { # dir -> where its binary goes
  local module package binary
  read -r module package binary <<<"$(tf_cli "$1")"
  printf '%s/%s/%s/%s\n' "$CACHE" "${1%-floor}" "$(pinned_version "$1" "$module")" "$binary"
}
build_tf_cli() { # dir
  local module package binary out
  read -r module package binary <<<"$(tf_cli "$1")"
  out=$(tf_cli_path "$1")
  if [[ -x $out ]]; then # cached: no need to start it
    say "$1: $out (cached)"
    return 0
  fi
  go_cli "$1" "$(pinned_version "$1" "$module")" "$package" "$out" "-s -w -X $module/version.dev=no"
  say "$1: $(cli_version "$out")"
}
built_tofu() { tf_cli_path opentofu; }
built_terraform() { tf_cli_path terraform; }

# The CLI that tests and the Makefile use, as chosen by TF_BIN / ECS_STATE_USE_SYSTEM_TF.
absolute_command() { # a command name or path -> absolute path
  local path=$1 dir
  [[ $path == */* ]] || path=$(command -v "$path") || return 1
  dir=$(cd "$(dirname "$path")" && pwd) || return 1
  printf '%s/%s\n' "${dir%/}" "$(basename "$path")"
}

# A command of the user's own from PATH, skipping our links in $CACHE/bin.
user_command() {
  PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$CACHE/bin" | paste -sd:) command -v "$1"
}

# The user's own CLI: tofu, else terraform.
user_tf_bin() { user_command tofu || user_command terraform; }

selected_tf_bin() {
  if [[ -n ${TF_BIN:-} ]]; then
    absolute_command "$TF_BIN" || printf '%s\n' "$TF_BIN"
  elif system_tf; then
    user_tf_bin
  else
    built_tofu
  fi
}

cli_version() { # first "OpenTofu vX" / "Terraform vX" line, ignoring CLI-config warnings
  "$1" version 2>/dev/null | grep -m 1 -E '^(OpenTofu|Terraform) v' || echo "version unknown"
}

step_tofu() {
  local chosen
  if [[ -n ${TF_BIN:-} ]] || system_tf; then
    chosen=$(selected_tf_bin) || die "ECS_STATE_USE_SYSTEM_TF=1 but no tofu or terraform on PATH"
    [[ -x $chosen ]] || die "TF_BIN=$chosen is not an executable"
    say "tofu: using $chosen as it is ($(cli_version "$chosen"))"
  else
    with_lock opentofu build_tf_cli opentofu
    chosen=$(built_tofu)
  fi
  # `tofu` on PATH is the selected CLI, whichever it is, so the Makefile and
  # pytest-terraform (which looks for tofu before terraform) use it.
  link_bin tofu "$chosen"
}

# The lowest OpenTofu and Terraform versions.tf admits, for tests/floors; they run
# with the same provider mirror as the other CLIs (tools/README.md says why the aws
# provider's own floor is not built).
step_floors() {
  with_lock opentofu-floor build_tf_cli opentofu-floor
  with_lock terraform-floor build_tf_cli terraform-floor
}

# The module's own floor, read from versions.tf (`required_version = ">= X"`): a user's
# terraform older than that cannot run it, so the tier builds the pinned release instead.
terraform_min_version() {
  sed -n 's/^ *required_version *= *">= *\([0-9.]*\)".*/\1/p' "$TOOLS_DIR/../versions.tf"
}

version_at_least() { # version minimum
  [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1) == "$2" ]]
}

# The user's own terraform from PATH (not our link in $CACHE/bin), when at least $1.
user_terraform() {
  local found version
  found=$(user_command terraform) || return 1
  version=$("$found" version 2>/dev/null | sed -n '1s/^Terraform v\([0-9.]*\).*/\1/p')
  [[ -n $version ]] && version_at_least "$version" "$1" || return 1
  printf '%s\n' "$found"
}

# The Terraform tier's CLI, chosen once per run (each look at the user's costs a
# `terraform version`): TERRAFORM_BIN, else the user's terraform, else the one built here
# (which may not exist yet).
TERRAFORM_CHOICE=
resolve_terraform_choice() {
  local floor
  if [[ -n ${TERRAFORM_BIN:-} ]]; then
    TERRAFORM_CHOICE=$(absolute_command "$TERRAFORM_BIN" || printf '%s\n' "$TERRAFORM_BIN")
    return 0
  fi
  floor=$(terraform_min_version)
  [[ -n $floor ]] || die "no required_version = \">= X\" in versions.tf to check a terraform against"
  TERRAFORM_CHOICE=$(user_terraform "$floor" || built_terraform)
}

step_terraform() {
  local chosen=$TERRAFORM_CHOICE
  if [[ $chosen == "$(built_terraform)" ]]; then
    with_lock terraform build_tf_cli terraform
  else
    [[ -x $chosen ]] || die "TERRAFORM_BIN=$chosen is not an executable"
    say "terraform: using $chosen as it is ($(cli_version "$chosen"))"
  fi
  link_bin terraform "$chosen"
}

# ---- providers --------------------------------------------------------------------
# The tests' aws provider is, by default, the pinned source with its service list cut
# to the services in tools/go/aws/services.txt (tools/go/aws/trim.py): the code that
# serves those resources is untouched, and the build takes minutes instead of over an
# hour. ECS_STATE_AWS_PROVIDER=full builds every service.
aws_provider_flavour() {
  case ${ECS_STATE_AWS_PROVIDER:-trimmed} in
    trimmed | full) printf '%s\n' "${ECS_STATE_AWS_PROVIDER:-trimmed}" ;;
    *) die "ECS_STATE_AWS_PROVIDER must be 'trimmed' or 'full', not '$ECS_STATE_AWS_PROVIDER'" ;;
  esac
}
aws_trim_key() { cat "$TOOLS_DIR/go/aws/services.txt" "$TOOLS_DIR/go/aws/trim.py" | sha256sum | cut -c1-12; }
aws_provider_binary() {
  local dir=$AWS_PROVIDER_PSEUDO_VERSION
  [[ $(aws_provider_flavour) == full ]] || dir+="-trimmed-$(aws_trim_key)"
  printf '%s/providers/aws/%s/terraform-provider-aws_v%s\n' "$CACHE" "$dir" "$AWS_PROVIDER_VERSION"
}

aws_provider_ldflags() {
  printf '%s\n' "-s -w -X $AWS_PROVIDER_MODULE/version.ProviderVersion=$AWS_PROVIDER_VERSION"
}

build_aws_provider() {
  local out running work
  out=$(aws_provider_binary)
  if [[ -x $out ]]; then
    say "provider aws: $out (cached)"
    return 0
  fi
  need_go "terraform-provider-aws"
  work="$CACHE/build/aws-$(basename "$(dirname "$out")")"
  rm -rf "$work"
  mkdir -p "$work" "$(dirname "$out")"
  if [[ $(aws_provider_flavour) == full ]]; then
    # One full build needs about 9 GB; a second one at the same time can exhaust memory.
    running=$(pgrep -f "terraform-provider-aws@$AWS_PROVIDER_PSEUDO_VERSION" || true)
    [[ -z $running ]] || die "a build of terraform-provider-aws@$AWS_PROVIDER_PSEUDO_VERSION is already \
running (pid $(echo "$running" | paste -sd,)); run this again when it has finished"
    say "provider aws: building all of $AWS_PROVIDER_VERSION from source (over an hour, about 9 GB of memory)"
    run_logged "$(basename "$work")" env GOTOOLCHAIN=local GOFLAGS=-mod=mod \
      GOBIN="$work" go install -trimpath -ldflags "$(aws_provider_ldflags)" \
      "$AWS_PROVIDER_MODULE@$AWS_PROVIDER_PSEUDO_VERSION"
    mv -f "$work/terraform-provider-aws" "$out"
  else
    say "provider aws: building $AWS_PROVIDER_VERSION from source, trimmed to tools/go/aws/services.txt"
    build_trimmed_aws_provider "$work" "$out"
  fi
  rm -rf "$work"
  say "provider aws: $out"
}

# Copies the pinned module source out of the Go module cache (read-only there), trims
# the copy and builds it in its own module, so its go.mod and go.sum are the pins.
build_trimmed_aws_provider() {
  local work=$1 out=$2 source
  source=$(GOFLAGS='' GOTOOLCHAIN=local go mod download -json "$AWS_PROVIDER_MODULE@$AWS_PROVIDER_PSEUDO_VERSION" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  mkdir -p "$work/src"
  tar -C "$source" --exclude=./website --exclude=./docs --exclude=./examples -cf - . | tar -C "$work/src" -xf -
  chmod -R u+w "$work/src"
  (
    cd "$work/src"
    GOTOOLCHAIN=local GOFLAGS=-mod=mod python3 "$TOOLS_DIR/go/aws/trim.py" . "$TOOLS_DIR/go/aws/services.txt" |
      while read -r line; do say "provider aws: $line"; done
    run_logged "$(basename "$work")" env GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 \
      go build -trimpath -ldflags "$(aws_provider_ldflags)" -o "$out.tmp" .
  )
  mv -f "$out.tmp" "$out"
}

# Lays the filesystem mirror out as <host>/hashicorp/<name>/<version>/<os_arch>/ for
# both default registries, so a module's `source = "hashicorp/aws"` resolves offline
# under OpenTofu and Terraform alike. Only the versions pinned here stay listed.
mirror_provider() {
  local name=$1 version=$2 binary=$3 host dir
  [[ -x $binary ]] || die "provider $name: $binary is missing; run tools/bootstrap.sh providers"
  for host in "${MIRROR_HOSTS[@]}"; do
    rm -rf "$CACHE/mirror/$host/hashicorp/$name"
    dir="$CACHE/mirror/$host/hashicorp/$name/$version/$PLATFORM"
    mkdir -p "$dir"
    ln -sfn "$binary" "$dir/terraform-provider-${name}_v$version"
  done
}

mirror_all() {
  mirror_provider aws "$AWS_PROVIDER_VERSION" "$(aws_provider_binary)"
}

write_cli_config() {
  local config="$CACHE/tf-cli-config.tfrc" patterns="" host
  for host in "${MIRROR_HOSTS[@]}"; do
    patterns+="${patterns:+, }\"$host/hashicorp/*\""
  done
  mkdir -p "$CACHE/mirror"
  cat >"$config.tmp" <<EOF
# Written by tools/bootstrap.sh. hashicorp/* providers come only from the local
# filesystem mirror (built from source); anything else is installed as usual.
disable_checkpoint = true

provider_installation {
  filesystem_mirror {
    path    = "$CACHE/mirror"
    include = [$patterns]
  }
  direct {
    exclude = [$patterns]
  }
}
EOF
  mv -f "$config.tmp" "$config"
}

step_providers() {
  if system_tf; then
    say "providers: skipped (ECS_STATE_USE_SYSTEM_TF=1: the CLI installs them from its registry)"
    return 0
  fi
  with_lock provider-aws build_aws_provider
  with_lock mirror mirror_all
  write_cli_config
  say "providers: mirror $CACHE/mirror (aws $AWS_PROVIDER_VERSION)"
}

# ---- DynamoDB Local ---------------------------------------------------------------
dynamodb_local_dir() { printf '%s/dynamodb-local/%s\n' "$CACHE" "$DYNAMODB_LOCAL_VERSION"; }

# sqlite4java's native library, which DynamoDB Local cannot run without, per platform, as
# Maven coordinates group:artifact:type. DynamoDB Local's pom asks for sqlite4java 1.0.392's
# own builds (linux amd64 and i386, an x86_64 macOS one, Windows); tools/dynamodb-local/
# pom.xml drops those and takes this one instead. sqlite4java loads the file named after
# os.name and os.arch, which these names match.
sqlite4java_native() { # platform
  case $1 in
    linux_amd64) echo com.almworks.sqlite4java:libsqlite4java-linux-amd64:so ;;
    darwin_amd64) echo com.almworks.sqlite4java:libsqlite4java-osx:dylib ;;
    # Apple silicon: a build of the same sqlite4java release, published on its own.
    darwin_arm64) echo io.github.ganadist.sqlite4java:libsqlite4java-osx-aarch64:dylib ;;
    linux_arm64) die "DynamoDB Local needs sqlite4java's native library, and Maven Central has no \
Linux arm64 build of it (sqlite4java 1.0.392 has Linux x86_64 and i386, macOS and Windows; \
Apple silicon's is published apart). Run the DynamoDB Local tests on Linux x86_64 or macOS" ;;
    *) die "no sqlite4java native library is known for platform $1" ;;
  esac
}

java_major() {
  java -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit }'
}

# DynamoDB Local's own jar names its libraries by the names of its zip distribution;
# Maven's names differ, so a small launcher jar carries a Class-Path with Maven's.
write_launcher_jar() {
  local dir=$1
  python3 - "$dir" <<'EOF'
import os, sys, zipfile

directory = sys.argv[1]
lib = "DynamoDBLocal_lib"
jars = sorted(f for f in os.listdir(os.path.join(directory, lib)) if f.endswith(".jar"))


def wrap(line: str) -> bytes:  # manifest lines are at most 72 bytes
    data = line.encode()
    out = [data[:72]]
    data = data[72:]
    while data:
        out.append(b" " + data[:71])
        data = data[71:]
    return b"\r\n".join(out) + b"\r\n"


manifest = b"".join(
    [
        wrap("Manifest-Version: 1.0"),
        wrap("Main-Class: com.amazonaws.services.dynamodbv2.local.main.ServerRunner"),
        wrap("Class-Path: " + " ".join(f"{lib}/{jar}" for jar in jars)),
    ]
) + b"\r\n"
target = os.path.join(directory, "DynamoDBLocal.jar")
with zipfile.ZipFile(target + ".tmp", "w") as archive:
    archive.writestr("META-INF/MANIFEST.MF", manifest)
os.replace(target + ".tmp", target)
EOF
}

# Starts it in memory on a free loopback port and waits for an HTTP answer.
smoke_test_dynamodb_local() {
  local dir=$1 port pid ok=0 i
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  (cd "$dir" && exec java "-Djava.library.path=$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
    -inMemory -disableTelemetry -port "$port") >"$CACHE/logs/dynamodb-local-smoke.log" 2>&1 &
  pid=$!
  for i in $(seq 1 300); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
      ok=1
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$dir/dynamodb-local-metadata.json"
  ((ok)) || die "DynamoDB Local did not start; see $CACHE/logs/dynamodb-local-smoke.log"
  say "dynamodb-local: answered on 127.0.0.1:$port after $((i / 5)) s (java $(java_major))"
}

fetch_dynamodb_local() {
  local dir work major native group artifact type
  dir=$(dynamodb_local_dir)
  if [[ -f $dir/.complete ]]; then
    say "dynamodb-local: $dir (cached)"
    return 0
  fi
  have java || die "java is needed for DynamoDB Local (Java 17+; Debian: openjdk-17-jre-headless)"
  have mvn || die "mvn is needed to fetch DynamoDB Local from Maven Central (Debian: maven)"
  major=$(java_major)
  ((major >= 17)) || die "DynamoDB Local needs Java 17 or newer; java is $major"
  native=$(sqlite4java_native "$PLATFORM") || exit 1
  IFS=: read -r group artifact type <<<"$native"
  work="$dir.tmp"
  rm -rf "$work"
  mkdir -p "$work"
  cp "$TOOLS_DIR/dynamodb-local/pom.xml" "$work/pom.xml"
  run_logged "dynamodb-local-$DYNAMODB_LOCAL_VERSION" mvn -B -f "$work/pom.xml" \
    "-Ddynamodb.local.version=$DYNAMODB_LOCAL_VERSION" "-Dsqlite4java.native.groupId=$group" \
    "-Dsqlite4java.native.artifactId=$artifact" "-Dsqlite4java.native.type=$type" \
    "$MAVEN_DEPENDENCY_PLUGIN:copy-dependencies" \
    "-DoutputDirectory=$work/DynamoDBLocal_lib" -DincludeScope=runtime
  ls "$work/DynamoDBLocal_lib/$artifact"-*."$type" >/dev/null 2>&1 ||
    die "sqlite4java's native library for $PLATFORM ($native) is missing from $work/DynamoDBLocal_lib"
  write_launcher_jar "$work"
  rm -f "$work/pom.xml"
  rm -rf "$dir"
  mv "$work" "$dir"
  smoke_test_dynamodb_local "$dir"
  touch "$dir/.complete"
  say "dynamodb-local: $dir"
}

step_dynamodb_local() { with_lock dynamodb-local fetch_dynamodb_local; }

event_ruler_dir() { printf '%s/event-ruler/%s\n' "$CACHE" "$EVENT_RULER_VERSION"; }

fetch_event_ruler() {
  local dir work
  dir=$(event_ruler_dir)
  if [[ -f $dir/.complete ]]; then
    say "event-ruler: $dir (cached)"
    return 0
  fi
  have mvn || die "mvn is needed to fetch event-ruler from Maven Central (Debian: maven)"
  work="$dir.tmp"
  rm -rf "$work"
  mkdir -p "$work/jars"
  cp "$TOOLS_DIR/event-ruler/pom.xml" "$work/pom.xml"
  run_logged "event-ruler-$EVENT_RULER_VERSION" mvn -B -f "$work/pom.xml" \
    "-Devent.ruler.version=$EVENT_RULER_VERSION" \
    "$MAVEN_DEPENDENCY_PLUGIN:copy-dependencies" \
    "-DoutputDirectory=$work/jars" -DincludeScope=runtime
  rm -rf "$dir"
  mv "$work/jars" "$dir"
  rm -rf "$work"
  touch "$dir/.complete"
  say "event-ruler: $dir"
}

step_event_ruler() { with_lock event-ruler fetch_event_ruler; }

rie_binary() { printf '%s/rie/%s/aws-lambda-rie\n' "$CACHE" "$RIE_PSEUDO_VERSION"; }

step_rie() { with_lock rie go_cli rie "$RIE_PSEUDO_VERSION" "$RIE_MODULE/cmd/aws-lambda-rie" "$(rie_binary)"; }

# ---- terraform-docs, tflint -------------------------------------------------------
terraform_docs_version() { pinned_version terraform-docs github.com/terraform-docs/terraform-docs; }
terraform_docs_binary() { printf '%s/terraform-docs/%s/terraform-docs\n' "$CACHE" "$(terraform_docs_version)"; }

build_terraform_docs() {
  go_cli terraform-docs "$(terraform_docs_version)" github.com/terraform-docs/terraform-docs \
    "$(terraform_docs_binary)"
  link_bin terraform-docs "$(terraform_docs_binary)"
}
step_docs() { with_lock terraform-docs build_terraform_docs; }

build_tflint() {
  go_cli tflint "$TFLINT_VERSION" github.com/terraform-linters/tflint "$CACHE/tflint/$TFLINT_VERSION/tflint"
  mkdir -p "$CACHE/tflint/plugins"
  link_bin tflint "$CACHE/tflint/$TFLINT_VERSION/tflint"
}
step_lint() { with_lock tflint build_tflint; }

# ---- env.sh -----------------------------------------------------------------------
write_env() {
  local env_file="$CACHE/env.sh" venv ddb tf_bin path_dirs=() dir
  venv=$(venv_path)
  ddb=$(dynamodb_local_dir)
  tf_bin=$(selected_tf_bin 2>/dev/null || true)
  mkdir -p "$CACHE"
  # The CLI configuration must exist whenever env.sh names it, even before the
  # providers step has run (a missing file makes every tofu command warn).
  system_tf || write_cli_config
  [[ -d $CACHE/bin ]] && path_dirs+=("$CACHE/bin")
  [[ -d $venv/bin ]] && path_dirs+=("$venv/bin")
  {
    echo "# Written by tools/bootstrap.sh; source it before running the project's tools."
    printf 'export ECS_STATE_CACHE=%q\n' "$CACHE"
    printf 'export ECS_STATE_VENV=%q\n' "$venv"
    printf 'export DYNAMODB_LOCAL_DIR=%q\n' "$ddb"
    printf 'export EVENT_RULER_CLASSPATH=%q\n' "$(event_ruler_dir)/*"
    printf 'export LAMBDA_RIE_BIN=%q\n' "$(rie_binary)"
    # Named even before `tools/bootstrap.sh floors` has built them, so that
    # tests/floors can say which is missing.
    printf 'export FLOOR_TOFU_BIN=%q\n' "$(tf_cli_path opentofu-floor)"
    printf 'export FLOOR_TERRAFORM_BIN=%q\n' "$(tf_cli_path terraform-floor)"
    printf 'export TOFU_BIN=%q\n' "$tf_bin"
    printf 'export TERRAFORM_BIN=%q\n' "$TERRAFORM_CHOICE"
    if system_tf; then
      echo "# The user's own CLI, with its own configuration and registry access."
      echo "export ECS_STATE_USE_SYSTEM_TF=1"
    else
      printf 'export TF_CLI_CONFIG_FILE=%q\n' "$CACHE/tf-cli-config.tfrc"
    fi
    # The tools' own caches live here too, not in the checkout.
    printf 'export RUFF_CACHE_DIR=%q\n' "$CACHE/ruff"
    printf 'export PYTHONPYCACHEPREFIX=%q\n' "$CACHE/pycache"
    # shellcheck disable=SC2016 # expanded when env.sh is sourced; the user's options stay
    printf 'case " ${PYTEST_ADDOPTS:-} " in *" -o cache_dir=%q "*) ;; *) export PYTEST_ADDOPTS="${PYTEST_ADDOPTS:+$PYTEST_ADDOPTS }-o cache_dir=%q" ;; esac\n' \
      "$CACHE/pytest" "$CACHE/pytest"
    printf 'export HYPOTHESIS_STORAGE_DIRECTORY=%q\n' "$CACHE/hypothesis"
    # An empty plugin folder: tflint then runs its bundled ruleset, whatever ~/.tflint.d holds.
    printf 'export TFLINT_PLUGIN_DIR=%q\n' "$CACHE/tflint/plugins"
    echo "export CHECKPOINT_DISABLE=1"
    for ((i = ${#path_dirs[@]} - 1; i >= 0; i--)); do
      dir=${path_dirs[i]}
      # shellcheck disable=SC2016 # $PATH is expanded when env.sh is sourced
      printf 'case ":$PATH:" in *:%q:*) ;; *) export PATH=%q":$PATH" ;; esac\n' "$dir" "$dir"
    done
  } >"$env_file.tmp"
  mv -f "$env_file.tmp" "$env_file"
  say "env: $env_file"
}

step_status() {
  local tf_bin dir
  tf_bin=$(selected_tf_bin 2>/dev/null || true)
  printf '%-16s %s\n' cache "$CACHE"
  printf '%-16s %s\n' venv "$(venv_path) $([[ -f $(venv_path)/.complete ]] && echo ok || echo missing)"
  printf '%-16s %s\n' tofu "${tf_bin:-none} $([[ -x ${tf_bin:-/nonexistent} ]] && echo ok || echo missing)"
  printf '%-16s %s\n' terraform "$TERRAFORM_CHOICE $([[ -x $TERRAFORM_CHOICE ]] && echo ok || echo missing)"
  printf '%-16s %s\n' "provider aws" "$(aws_provider_binary) $([[ -x $(aws_provider_binary) ]] && echo ok || echo missing)"
  printf '%-16s %s\n' dynamodb-local "$(dynamodb_local_dir) $([[ -f $(dynamodb_local_dir)/.complete ]] && echo ok || echo missing)"
  printf '%-16s %s\n' rie "$(rie_binary) $([[ -x $(rie_binary) ]] && echo ok || echo missing)"
  for dir in opentofu-floor terraform-floor; do
    printf '%-16s %s\n' "$dir" "$(tf_cli_path "$dir") $([[ -x $(tf_cli_path "$dir") ]] && echo ok || echo missing)"
  done
  printf '%-16s %s\n' terraform-docs "$(terraform_docs_binary)"
  printf '%-16s %s\n' tflint "$CACHE/tflint/$TFLINT_VERSION/tflint"
  printf '%-16s %s\n' env.sh "$CACHE/env.sh"
}

main() {
  local steps=() step
  for step in "${@:-all}"; do
    case $step in
      all) steps+=(venv tofu terraform providers dynamodb-local event-ruler rie docs lint) ;;
      -h | --help | help)
        usage
        return 0
        ;;
      *) steps+=("$step") ;;
    esac
  done
  mkdir -p "$CACHE"
  PLATFORM=$(platform) || exit 1
  resolve_tf_choice
  resolve_terraform_choice
  for step in "${steps[@]}"; do
    case $step in
      venv) step_venv ;;
      mutate) step_mutate ;;
      floors) step_floors ;;
      tofu) step_tofu ;;
      terraform) step_terraform ;;
      providers) step_providers ;;
      dynamodb-local) step_dynamodb_local ;;
      event-ruler) step_event_ruler ;;
      rie) step_rie ;;
      docs) step_docs ;;
      lint) step_lint ;;
      env) ;;
      status)
        step_status
        return 0
        ;;
      *)
        usage >&2
        die "unknown step: $step"
        ;;
    esac
  done
  write_env
}

# Sourced (tests/tools does, to test single functions), it only defines them.
[[ ${BASH_SOURCE[0]} != "$0" ]] || main "$@"
