// Mark the page as having JavaScript (GOV.UK Frontend's convention; its own template does this inline,
// which the content security policy forbids), then start GOV.UK Frontend's components.
document.body.classList.add("js-enabled");
if ("noModule" in HTMLScriptElement.prototype) {
  document.body.classList.add("govuk-frontend-supported");
}
import("../govuk-frontend/govuk-frontend.min.js").then((govuk) => govuk.initAll());
