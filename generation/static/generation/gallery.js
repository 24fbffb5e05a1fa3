// Job page: clicking an image opens it large in a dialog, with the previous and next images of the job.
// Keys: Escape closes, the arrow keys move. Without JavaScript the link opens the image file itself.
(() => {
  let dialog = null;
  let images = [];
  let index = 0;

  const build = () => {
    dialog = document.createElement("dialog");
    dialog.className = "zoom-dialog";
    dialog.setAttribute("aria-label", document.documentElement.lang.startsWith("zh") ? "放大查看" : "Enlarged image");
    dialog.innerHTML = `
      <img alt="">
      <p class="zoom-caption"></p>
      <div class="zoom-controls">
        <button type="button" data-move="-1" aria-label="${document.documentElement.lang.startsWith("zh") ? "上一张" : "Previous"}">‹</button>
        <button type="button" data-close aria-label="${document.documentElement.lang.startsWith("zh") ? "关闭" : "Close"}">×</button>
        <button type="button" data-move="1" aria-label="${document.documentElement.lang.startsWith("zh") ? "下一张" : "Next"}">›</button>
      </div>`;
    dialog.addEventListener("click", (event) => {
      const target = event.target;
      if (target === dialog || target.hasAttribute("data-close")) dialog.close();
      const move = target.getAttribute("data-move");
      if (move) show(index + Number(move));
    });
    dialog.addEventListener("keydown", (event) => {
      if (event.key === "ArrowLeft") show(index - 1);
      if (event.key === "ArrowRight") show(index + 1);
    });
    document.body.appendChild(dialog);
  };

  const show = (at) => {
    index = (at + images.length) % images.length;
    const link = images[index];
    const img = dialog.querySelector("img");
    img.src = link.href;
    img.alt = link.querySelector("img").alt;
    dialog.querySelector(".zoom-caption").textContent = `${index + 1} / ${images.length}`;
  };

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-zoom]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    if (!dialog) build();
    images = Array.from(document.querySelectorAll("a[data-zoom]"));
    dialog.showModal();
    show(images.indexOf(link));
  });
})();
