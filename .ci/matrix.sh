#!/usr/bin/env bash
# The version matrix (README: "Versions"). In fresh virtual environments with versions that
# `pip install -r requirements.txt` does not pick, the unit tests and every notebook:
#   oldest  Python 3.10 (pyproject's requires-python), every floor of requirements.txt installed exactly
#           (`torch>=2.6` becomes `torch==2.6`, ...), the rest as pip resolves it;
#   colab   Python 3.12 with Colab's widget stack, ipywidgets 7.7.1 with the front end that draws it
#           (jupyterlab_widgets 1.1.11, widgetsnbextension 3.6), IPython 7.34, and the newest torch.
# Each runs `python -m pytest -m "not slow and not browser"`: tests/ and notebooks/ (nbval, every
# notebook executed once), without the reruns, the benchmark and the browser test, which .ci/run's
# `python -m pytest` runs with the newest releases. Prints which environment passed, with its times;
# exits 1 if one failed. About 10 minutes on a 2-core machine (each: 1.5 min to install, 3 min of tests),
# a minute or two more when pip's cache is empty (torch and its CUDA libraries are several GB).
#
# Usage: bash .ci/matrix.sh [oldest] [colab]      (no argument: both, one after the other)
#   MATRIX_DIR   where the environments go (default: .venv-matrix/ here); each is removed when done,
#   MATRIX_KEEP=1  unless this is set; then a kept environment whose requirements did not change is reused.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
WORK="${MATRIX_DIR:-$ROOT/.venv-matrix}"
mkdir -p "$WORK"

say() { echo "matrix: $*"; }

# An interpreter for Python X.Y that can make virtual environments: python X.Y on PATH (pyenv's shim
# included), then pyenv's versions, then the usual system places. Prints its real path.
find_python() {
    local want="$1" candidate
    local pyenv="${PYENV_ROOT:-$HOME/.pyenv}"
    for candidate in "python$want" $(ls -d "$pyenv"/versions/"$want".*/bin/python /root/.pyenv/versions/"$want".*/bin/python \
                                        2>/dev/null | sort -rV) \
                     "/usr/local/bin/python$want" "/usr/bin/python$want"; do
        command -v "$candidate" >/dev/null 2>&1 || continue
        "$candidate" - "$want" >/dev/null 2>&1 <<'EOF' || continue
import sys, venv, ensurepip
sys.exit(".".join(map(str, sys.version_info[:2])) != sys.argv[1])
EOF
        "$candidate" -c 'import sys; print(sys.executable)'
        return 0
    done
    return 1
}

# requirements.txt with every floor pinned: "name>=X" becomes "name==X"; "-e ." names this checkout.
oldest_requirements() {
    "$1" - "$ROOT" <<'EOF'
import re, sys
root = sys.argv[1]
for raw in open(f"{root}/requirements.txt", encoding="utf-8"):
    line = re.sub(r"(^|\s)#.*", "", raw).strip()
    if not line:
        continue
    if line == "-e .":
        print(f"-e {root}")
        continue
    m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?)\s*>=\s*([^,;\s]+)\s*(?:,[^;]*)?(;.*)?", line)
    if not m:
        sys.exit(f"matrix: requirements.txt line {line!r} has no floor (>=) to pin")
    print(f"{m[1]}=={m[2]}{m[3] or ''}")
EOF
}

# requirements.txt with Colab's ipywidgets and IPython (Colab itself installs nothing from it).
colab_requirements() {
    "$1" - "$ROOT" <<'EOF'
import re, sys
root = sys.argv[1]
colab = {"ipywidgets": "ipywidgets==7.7.1", "jupyterlab_widgets": "jupyterlab_widgets>=1.1.11,<3",
         "widgetsnbextension": "widgetsnbextension~=3.6.0", "ipython": "ipython==7.34.0"}
for raw in open(f"{root}/requirements.txt", encoding="utf-8"):
    line = re.sub(r"(^|\s)#.*", "", raw).strip()
    name = re.match(r"[A-Za-z0-9._-]*", line)[0].lower().replace("-", "_")
    if line == "-e .":
        print(f"-e {root}")
    elif line and name not in colab:
        print(line)
print(*colab.values(), sep="\n")
EOF
}

# The packages whose versions the report names.
VERSIONS_OF='torch|torchvision|numpy|matplotlib|ipywidgets|jupyterlab_widgets|widgetsnbextension|ipython|ipykernel|jupyter_client|jupyterlab|notebook|tqdm|nbformat|nbclient|pytest|nbval'

declare -A RESULT
run_env() {
    local name="$1" want="$2" start=$SECONDS py venv req rc
    say "== $name: Python $want"
    if ! py="$(find_python "$want")"; then
        say "$name: FAILED: no Python $want with venv found (tried python$want on PATH, pyenv's versions/$want.*," \
            "/usr/local/bin and /usr/bin/python$want). Install it, e.g. \`pyenv install $want\` or" \
            "\`apt-get install python$want python$want-venv\`."
        RESULT[$name]="FAILED (no Python $want)"
        return 1
    fi
    venv="$WORK/$name"
    req="$WORK/$name-requirements.txt"
    "${name}_requirements" "$py" > "$req" || { RESULT[$name]="FAILED (requirements)"; return 1; }
    say "$name: $py ($("$py" --version 2>&1)); installs:"
    sed 's/^/    /' "$req"
    if [ "${MATRIX_KEEP:-}" = 1 ] && [ -x "$venv/bin/python" ] && cmp -s "$req" "$venv/matrix-requirements.txt"; then
        say "$name: reusing $venv (MATRIX_KEEP=1, same requirements)"
    else
        rm -rf "$venv"
        if ! { "$py" -m venv "$venv" && "$venv/bin/python" -m pip install --quiet --upgrade pip &&
               "$venv/bin/python" -m pip install --quiet -r "$req"; }; then
            say "$name: FAILED: pip could not install these requirements"
            RESULT[$name]="FAILED (install, $((SECONDS - start)) s)"
            return 1
        fi
        cp "$req" "$venv/matrix-requirements.txt"
    fi
    local installed=$((SECONDS - start))
    say "$name: installed in ${installed} s: $("$venv/bin/python" --version 2>&1)," \
        "$("$venv/bin/python" -m pip list --format=freeze 2>/dev/null | grep -iE "^($VERSIONS_OF)==" | tr '\n' ' ')"
    rm -rf "$WORK/$name-run" && mkdir -p "$WORK/$name-run"
    # A fresh sweep cache (notebooks 05 and 06 compute theirs with this torch) and answers file.
    (export PATH="$venv/bin:$PATH" VIRTUAL_ENV="$venv" LAB_CACHE_DIR="$WORK/$name-run/cache" \
            LAB_ANSWERS="$WORK/$name-run/answers.json"
     unset PYTHONHOME
     python -m pytest -m "not slow and not browser")
    rc=$?
    local tested=$((SECONDS - start - installed))
    if [ $rc -eq 0 ]; then
        RESULT[$name]="PASSED (install ${installed} s, tests ${tested} s)"
    else
        RESULT[$name]="FAILED (pytest exit $rc; install ${installed} s, tests ${tested} s)"
    fi
    [ "${MATRIX_KEEP:-}" = 1 ] || rm -rf "$venv" "$WORK/$name-run" "$req"
    return $rc
}

ENVS=("$@")
[ ${#ENVS[@]} -gt 0 ] || ENVS=(oldest colab)
declare -A PYTHON_OF=([oldest]=3.10 [colab]=3.12)
failed=0
total_start=$SECONDS
for name in "${ENVS[@]}"; do
    if [ -z "${PYTHON_OF[$name]:-}" ]; then
        say "unknown environment '$name' (known: ${!PYTHON_OF[*]})"
        exit 2
    fi
    run_env "$name" "${PYTHON_OF[$name]}" || failed=1
done
echo
say "summary ($((SECONDS - total_start)) s in all):"
for name in "${ENVS[@]}"; do
    say "  $name (Python ${PYTHON_OF[$name]}): ${RESULT[$name]}"
done
[ "${MATRIX_KEEP:-}" = 1 ] || rmdir "$WORK" 2>/dev/null || true
exit $failed
