/** Renders the console's pages: eta with auto-escaping, templates from templates.ts. */
import { Eta } from "eta";
import { TEMPLATES } from "./templates.js";

/** What every page's layout reads. */
export interface PageFrame {
  readonly title: string;
  readonly session?: { readonly tokenName: string; readonly tokenId: number } | undefined;
  readonly csrf?: string | undefined;
  readonly nav?: string;
  readonly notice?: string | undefined;
  readonly error?: string | undefined;
}

export class Renderer {
  readonly #eta = new Eta({ autoEscape: true, autoTrim: [false, "nl"], cache: true });

  constructor() {
    for (const [name, text] of Object.entries(TEMPLATES)) {
      this.#eta.loadTemplate(`@${name}`, text);
    }
  }

  /** The page `name` with `data`, inside the layout. */
  page(name: string, frame: PageFrame, data: Record<string, unknown> = {}): string {
    const all = { ...frame, ...data };
    const body = this.#eta.render(`@${name}`, all);
    return this.#eta.render("@layout", { ...frame, body });
  }
}
