// The log page: typing a time in the custom range's inputs chooses "Custom range" in the range list.
document.addEventListener("DOMContentLoaded", () => {
  const select = document.getElementById("range-select");
  for (const id of ["range-from", "range-to"]) {
    const input = document.getElementById(id);
    if (select && input) {
      input.addEventListener("change", () => {
        if (input.value) select.value = "custom";
      });
    }
  }
});
