// Job page: asks for the job's state until it is finished, soon at first and then less and less often
// (twice the wait after each answer that changes nothing, up to data-poll-max-ms), so a quick job shows its
// result at once while a long one costs the server a request every few seconds. A change (the job starts
// running, moves up the queue) brings the short wait back: the result may follow soon.
(() => {
  const STOP_POLLING = 286; // the server's answer once the job is finished (htmx's own code for it)

  document.addEventListener("DOMContentLoaded", () => {
    const live = document.getElementById("job-live");
    if (!live || !live.dataset.pollFirstMs) {
      return; // the job was already finished when the page was made
    }
    const first = Number(live.dataset.pollFirstMs);
    const most = Number(live.dataset.pollMaxMs);
    let wait = first;

    const schedule = () => {
      setTimeout(() => htmx.trigger(live, "job-poll"), wait);
      wait = Math.min(wait * 2, most);
    };

    live.addEventListener("htmx:afterRequest", (event) => {
      if (event.detail.elt !== live) {
        return;
      }
      const status = event.detail.xhr ? event.detail.xhr.status : 0;
      if (status === STOP_POLLING) {
        return;
      }
      if (status === 200) {
        wait = first;
      }
      schedule(); // also after a failed request: the next one may find the server again
    });
    schedule();
  });
})();
