"""doc/testlab.md runs (issue 16, item 5): every ```sh and ```python block
of the walkthrough, in order, as one bash script (a python block becomes
python3 with the block on stdin, sharing the exported environment), in a
scratch folder whose lab/ is the lab under test. The blocks check what they
show (grep -q, assert); the script must exit 0."""

import os
import re
import shutil
import subprocess
import tempfile

from htglab import ENV, test, check, TIMEOUT

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "doc",
                   "testlab.md")
# leftovers of a run that stopped half way (not part of the page)
PRECLEAN = """htgctl flow del proef 2>/dev/null || true
htgctl flow del proef-buiten 2>/dev/null || true
htgctl account del bedrijf@voorbeeld.nl 2>/dev/null || true
"""


def script():
    with open(DOC) as f:
        text = f.read()
    blocks = re.findall(r"^```(sh|python)\n(.*?)^```$", text, re.S | re.M)
    check(len(blocks) >= 8, "only %d blocks in doc/testlab.md" % len(blocks))
    out = ["set -euo pipefail"]
    for n, (lang, body) in enumerate(blocks):
        out.append("echo '--- block %d (%s)'" % (n + 1, lang))
        if lang == "sh":
            out.append(body)
            if n == 0:
                out.append(PRECLEAN)
        else:
            check("PYEOF" not in body, "python block %d uses PYEOF" % n)
            out.append("python3 - <<'PYEOF'\n%sPYEOF" % body)
    return "\n".join(out) + "\n"


@test
def testlab_walkthrough_runs():
    d = tempfile.mkdtemp(prefix="htg-testlab.")
    try:
        os.symlink(ENV["HTG_LAB_DIR"], os.path.join(d, "lab"))
        r = subprocess.run(["bash", "-c", script()], cwd=d, capture_output=True,
                           text=True, timeout=10 * TIMEOUT, stdin=subprocess.DEVNULL)
        check(r.returncode == 0, "doc/testlab.md failed (exit %d):\n%s\n%s"
              % (r.returncode, r.stdout[-3000:], r.stderr[-2000:]))
        check("550 5.7.1 HTG-HDR-CC" in r.stdout, "no refusal shown:\n" + r.stdout[-2000:])
        check("X-HTG-Simulated" not in r.stdout and "Ontvangstbevestiging" in r.stdout,
              "no receipt shown:\n" + r.stdout[-2000:])
    finally:
        shutil.rmtree(d, ignore_errors=True)
