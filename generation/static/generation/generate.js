// Generate page, VAE form: show only the fields of the chosen mode. Without JavaScript every field
// shows and the server ignores the ones the mode does not use.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-kind='vae']");
  if (!form) return;
  const fieldMode = { count: "sample", interpolate_to_seed: "interpolate", steps: "interpolate" };
  const update = () => {
    const checked = form.querySelector("input[name='vae-mode']:checked");
    const mode = checked ? checked.value : "sample";
    for (const [name, wanted] of Object.entries(fieldMode)) {
      const box = form.querySelector(`[data-field='${name}']`);
      if (box) box.hidden = mode !== wanted;
    }
  };
  form.addEventListener("change", update);
  update();
});
