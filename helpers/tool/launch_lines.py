"""What the demo page says as it starts, in our words rather than Gradio's: where it is served, its public link or
why there is none, and a port that is taken; and the line that stays on the page after a file over the upload limit.
"""

from __future__ import annotations

import socket

from .. import config
from ..errors import InputError

TOO_LARGE = (f"is over the page's limit of {config.MAX_UPLOAD_MB} MB a file, so it was not uploaded: save a smaller "
             "copy (most photo apps export one) and upload that.")

# A file over the limit never reaches the server: Gradio's page refuses it with a toast that vanishes. This
# script, run when the page loads, writes a line that stays (into #upload-note) for each file picked, dropped or
# pasted over the limit, and clears it when a file within the limit comes.
UPLOAD_NOTE_JS = """
() => {
  const limit = %d * 1024 * 1024, tail = %s;
  const check = (files) => {
    const note = document.querySelector("#upload-note");
    if (!files || !files.length || !note) return;
    const big = [...files].find((file) => file.size > limit);
    note.textContent = big ? `${big.name} (${(big.size / 1048576).toFixed(1)} MB) ${tail}` : "";
  };
  document.addEventListener("change", (event) => check(event.target.files), true);
  document.addEventListener("drop", (event) => check(event.dataTransfer && event.dataTransfer.files), true);
  document.addEventListener("paste", (event) => check(event.clipboardData && event.clipboardData.files), true);
}
""" % (config.MAX_UPLOAD_MB, repr(TOO_LARGE))


def no_share_link(gradio_said: str, local_url: str) -> str:
    """One line for a share link Gradio could not make, with the reason `gradio_said` gives, in words."""
    if "Missing file" in gradio_said:
        why = ("Gradio could not download its tunnel program (frpc): this machine has no internet, or something "
               "(a firewall, an antivirus) blocks it")
    elif "Checksum mismatch" in gradio_said:
        why = "Gradio's tunnel program (frpc) is damaged: delete it and start again with internet"
    else:
        why = "Gradio's share server did not answer: this machine has no internet, or the tunnel is blocked"
    return f"No public link: {why}. The page is served at {local_url} only."


def port_taken(host: str, port: int | None) -> InputError:
    """The error for a port another program holds, naming --port and a free port to try."""
    start = port or 7860
    free = next((candidate for candidate in range(start + 1, start + 200) if _free(host, candidate)), None)
    try_this = f", e.g. --port {free} (port={free} in Python)" if free else ""
    return InputError(f"Port {start} on {host} is taken (another program, or this page still running): pass "
                      f"another with --port{try_this}.")


def _free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
