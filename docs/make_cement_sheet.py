"""``python docs/make_cement_sheet.py`` writes docs/images/cement_sheet.png: the lateral and
AP fluoroscopy (home poses, the trocar out of the picture) of five injections of release
0.5.0's visible cement, each from the cement model with its tip held still:

- a compact doughy fill (high-viscosity cement at 4 min, 3 ml at 3 ml/min, first_case_l1);
- a runny fill (low-viscosity cement 30 s after mixing, 3 ml at 3 ml/min, first_case_l1);
- a venous leak (runny, 5 ml at 8 ml/min, venous_risk_l2, at the expert's tip);
- a disc leak (runny, 4 ml at 8 ml/min, endplate_crack_t12, 4 mm under the crack);
- a canal leak (runny, 4 ml at 8 ml/min, posterior_wall_l1, 5.6 mm before the wall defect).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from simulator.anatomy.build import build_phantom
from simulator.bench.leaks import held_tip_injection
from simulator.fluoro.alignment import make_carm
from simulator.fluoro.device import HOME
from simulator.releases import ModelOptions
from simulator.scenario import load_scenario

OUT = Path(__file__).parent / "images" / "cement_sheet.png"
ROWS = (
    ("compact doughy fill", "first_case_l1", None, "pmma_high", 240.0, 3.0, 3.0),
    ("runny fill", "first_case_l1", None, "pmma_low", 30.0, 3.0, 3.0),
    ("venous leak", "venous_risk_l2", None, "pmma_low", 30.0, 8.0, 5.0),
    ("disc leak", "endplate_crack_t12", (3.0, -4.0, 2.0), "pmma_low", 30.0, 8.0, 4.0),
    ("canal leak", "posterior_wall_l1", (3.0, 8.0, -3.0), "pmma_low", 30.0, 8.0, 4.0),
)


def main() -> None:
    fig, axes = plt.subplots(len(ROWS), 2, figsize=(7.0, 3.4 * len(ROWS)))
    for row, (title, case, tip, product, wait_s, rate, ml) in zip(axes, ROWS, strict=True):
        s = load_scenario(case)
        ph = build_phantom(s)
        if tip is None:
            tip = ph.landmarks.targets["left"].point_mm
        c = held_tip_injection(
            s, ph, tip, product=product, wait_s=wait_s, rate_ml_min=rate, ml=ml, after_s=5.0
        )
        imager = make_carm(s, ph, seed=1, images=True, model=ModelOptions()).imager
        leaks = ", ".join(f"{k} {v:.2f}" for k, v in c.leak_ml().items() if v >= 0.005)
        for ax, (view, pose) in zip(row, HOME.items(), strict=True):
            image = imager.render(view, pose, pulse_index=0, cement=c.field())
            n = image.pixels.shape[0]
            ax.imshow(image.pixels[n // 5 : 4 * n // 5, n // 5 : 4 * n // 5], cmap="gray")
            ax.set_axis_off()
            ax.set_title(f"{title}: {view}", fontsize=8)
        row[0].text(
            0.0, -0.04, f"{case}: leaks (ml) {leaks or 'none'}", transform=row[0].transAxes,
            fontsize=7, va="top",
        )  # fmt: skip
    fig.tight_layout()
    OUT.parent.mkdir(exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(OUT)


if __name__ == "__main__":
    main()
