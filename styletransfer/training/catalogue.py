"""The data the painted zoo is trained and judged on: the paintings (``STYLES``, in the order
of a several-style network's rows) and photos of the shared data set, and the photos held out.

One list for the recipe that trains the zoo (scripts/train_zoo.py) and the decoders
(scripts/train_decoders.py), and for the benchmarks that judge them (bench/quality.py,
bench/temporal.py), so what is measured on is what was held out of training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA = Path("../shared/data")  # relative to the repository root, as in the run configs
PAINTINGS = DATA / "styles"
PHOTOS = DATA / "photos"
# Photos of ../shared/data/photos that the zoo never trains on: bench/quality.py and the
# previews judge the models on them (the app's example photos are among them).
HELD_OUT_PHOTOS = ("skimage_*", "sklearn_*", "set5_*", "set14_*")


@dataclass(frozen=True)
class Painting:
    name: str
    file: str
    title: str
    artist: str
    year: str


# All 16 public-domain paintings of ../shared/data/styles (styles_SOURCES.tsv); titles marked
# there as unverified are given as descriptions.
STYLES = (
    Painting("starry_night", "starry_night.jpg", "The Starry Night", "Vincent van Gogh", "1889"),
    Painting("great_wave", "great_wave.jpg", "The Great Wave off Kanagawa", "Katsushika Hokusai", "c. 1830-1831"),
    Painting("the_scream", "the_scream.jpg", "The Scream", "Edvard Munch", "1893"),
    Painting("composition_vii", "composition_vii.jpg", "Composition VII", "Wassily Kandinsky", "1913"),
    Painting("shipwreck", "shipwreck_turner.jpg", "The Wreck of a Transport Ship", "J. M. W. Turner", "c. 1810"),
    Painting("udnie", "udnie_picabia.jpg", "Udnie (Young American Girl, The Dance)", "Francis Picabia", "1913"),
    Painting("water_lilies", "water_lilies_monet.jpg", "Water Lilies", "Claude Monet", "1919"),
    Painting(
        "grande_jatte",
        "grande_jatte_seurat.jpg",
        "A Sunday Afternoon on the Island of La Grande Jatte",
        "Georges Seurat",
        "1884-1886",
    ),
    Painting(
        "cezanne_landscape", "cezanne_landscape.jpg", "Landscape with trees and houses", "Paul Cézanne", "c. 1880s"
    ),
    Painting(
        "mondrian_grid",
        "mondrian_composition.jpg",
        "Cubist composition in grey and ochre",
        "Piet Mondrian",
        "c. 1913-1914",
    ),
    Painting("woman_with_hat", "woman_with_hat_matisse.jpg", "Woman with a Hat", "Henri Matisse", "1905"),
    Painting(
        "wheat_field", "wheat_field_cypresses_vangogh.jpg", "Wheat Field with Cypresses", "Vincent van Gogh", "1889"
    ),
    Painting(
        "straw_hat", "self_portrait_straw_hat_vangogh.jpg", "Self-Portrait with Straw Hat", "Vincent van Gogh", "1887"
    ),
    Painting("tahitian_women", "tahitian_women_gauguin.jpg", "Tahitian women", "Paul Gauguin", "1890s"),
    Painting("edtaonisl", "edtaonisl_picabia.jpg", "Edtaonisl (Ecclésiastique)", "Francis Picabia", "1913"),
    Painting(
        "duncanson_landscape",
        "landscape_duncanson.jpg",
        "Lake and mountain landscape",
        "Robert S. Duncanson",
        "19th c.",
    ),
)
