"""Built-in sample data: small, generated, in the exact layouts of the real
datasets, so every script can run (and be tested) without a download.

* ``write_houses``: a Houses-dataset folder (``HousesInfo.txt`` and four
  JPEGs per house). Prices follow the attributes and a kitchen finish that
  only the kitchen picture shows; the pictures also show the attributes
  (house width = area, beds = bedrooms, tubs = bathrooms, wall colour = zip
  code). So every model has something to learn, and the mixed model, which
  sees both, the most: the attributes alone leave the finish unexplained.
* ``write_shapes``: a folder-per-class image set of drawn circles, squares
  and triangles (or two of them), for the classification scripts.
* Chapter 3 of Deep Learning with Python: an aclImdb-like folder
  (``write_imdb_folder``), Keras' ``imdb.npz``, ``reuters.npz`` and
  ``boston_housing.npz`` formats, a Reuters-21578 SGML file, and a folder
  of ``.txt`` files per class (``write_text_folder``), each with cue words
  (or features) that give away the class (or the price).

All are deterministic for a given seed. From a terminal::

    python -m pyimagesearch.sample_data houses output/sample/houses
    python -m pyimagesearch.sample_data shapes output/sample/shapes --classes 3
    python -m pyimagesearch.sample_data imdb|imdb-npz|reuters|reuters-npz|boston|folder OUT
"""

import argparse
import json
import os

import cv2
import numpy as np

# made-up zip codes; each gets a price level of its own
SAMPLE_ZIPCODES = (10001, 20002, 30003, 40004)
ZIPCODE_PRICE_LEVEL = (0.7, 1.0, 1.4, 2.0)
# and their wall colours (BGR), so the frontal picture shows the zip code
ZIPCODE_COLOURS = ((60, 90, 200), (70, 170, 90), (200, 140, 60), (160, 160, 160))

SHAPE_CLASSES = ("circle", "square", "triangle")
IMAGE_SIZE = 64
JPEG_QUALITY = [cv2.IMWRITE_JPEG_QUALITY, 90]


# --------------------------------------------------------------------------
# Houses

# 60 houses per zip code, 240 in all. The post's mixed model needs that
# many: its 4-unit ReLU head often starts with units that die, and it
# recovers only over enough training steps (bench/README.md, "The sample
# houses", has the runs behind the number).
HOUSES_PER_ZIPCODE = 60
# how much of a house's price its kitchen finish sets (log-price standard
# deviation, attributes held fixed), and how much nothing shows: the MLP,
# which cannot see the finish, stays near 10%, the mixed model can go lower
FINISH_SIGMA = 0.12
UNEXPLAINED_SIGMA = 0.04


def write_houses(folder, houses_per_zipcode=HOUSES_PER_ZIPCODE, seed=42):
    """Write a sample Houses dataset to ``folder``; return the house count.

    A price is the zip code's level times a function of area and
    bathrooms, times the kitchen finish (a hidden quality, drawn per house,
    that the kitchen picture shows from pale wood to dark stone and that no
    attribute tells), times a little noise that nothing shows.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)

    zip_index = np.repeat(np.arange(len(SAMPLE_ZIPCODES)), houses_per_zipcode)
    rng.shuffle(zip_index)
    lines = []
    for number, z in enumerate(zip_index, start=1):
        bedrooms = int(rng.integers(1, 7))
        bathrooms = float(rng.integers(2, 9)) / 2.0  # 1.0 .. 4.0 in halves
        area = int(600 + 450 * bedrooms + 300 * bathrooms + rng.normal(0, 250))
        area = max(area, 400)
        # the finish, in standard deviations (-2 .. 2)
        finish = float(np.clip(rng.normal(0.0, 1.0), -2.0, 2.0))
        price = (ZIPCODE_PRICE_LEVEL[z] * (60_000 + 160 * area + 25_000 * bathrooms)
                 * np.exp(FINISH_SIGMA * finish) * rng.lognormal(0.0, UNEXPLAINED_SIGMA))
        lines.append(f"{bedrooms} {bathrooms:g} {area} {SAMPLE_ZIPCODES[z]} {price:.0f}")

        # the finish as the kitchen shows it, 0 (cheapest) .. 1 (finest)
        luxury = (finish + 2.0) / 4.0
        pictures = {
            "bathroom": _draw_bathroom(rng, bathrooms),
            "bedroom": _draw_bedroom(rng, bedrooms),
            "frontal": _draw_frontal(rng, area, ZIPCODE_COLOURS[z]),
            "kitchen": _draw_kitchen(rng, luxury),
        }
        for room, image in pictures.items():
            cv2.imwrite(os.path.join(folder, f"{number}_{room}.jpg"), image, JPEG_QUALITY)

    with open(os.path.join(folder, "HousesInfo.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return len(lines)


def _canvas(rng, colour):
    jitter = rng.integers(-15, 16, size=3)
    image = np.empty((IMAGE_SIZE, IMAGE_SIZE, 3), dtype="uint8")
    image[:] = np.clip(np.array(colour) + jitter, 0, 255)
    return image


def _add_noise(rng, image, sigma=6.0):
    noisy = image.astype("float32") + rng.normal(0, sigma, image.shape)
    return np.clip(noisy, 0, 255).astype("uint8")


def _draw_frontal(rng, area, wall):
    image = _canvas(rng, (230, 200, 150))  # sky
    image[48:] = (60, 140, 70)  # lawn
    width = int(np.clip(area / 6000 * IMAGE_SIZE, 14, 60))
    left = (IMAGE_SIZE - width) // 2 + int(rng.integers(-2, 3))
    cv2.rectangle(image, (left, 28), (left + width, 50), wall, -1)
    roof = np.array([[left - 3, 28], [left + width + 3, 28], [left + width // 2, 12]])
    cv2.fillPoly(image, [roof], (40, 40, 110))
    cv2.rectangle(image, (left + width // 2 - 3, 38), (left + width // 2 + 3, 50), (30, 60, 90), -1)
    return _add_noise(rng, image)


def _draw_bedroom(rng, bedrooms):
    image = _canvas(rng, (180, 200, 210))
    for b in range(bedrooms):
        x = 4 + (b % 3) * 20
        y = 8 + (b // 3) * 28
        cv2.rectangle(image, (x, y), (x + 16, y + 22), (150, 80, 40), -1)
        cv2.rectangle(image, (x + 2, y + 2), (x + 14, y + 7), (245, 245, 245), -1)
    return _add_noise(rng, image)


def _draw_bathroom(rng, bathrooms):
    image = _canvas(rng, (210, 210, 190))
    for t in range(int(round(bathrooms * 2))):  # one small tub per half bath
        x = 9 + (t % 4) * 15
        y = 14 + (t // 4) * 26
        cv2.circle(image, (x, y), 6, (250, 250, 250), -1)
        cv2.circle(image, (x, y), 6, (90, 90, 90), 1)
    return _add_noise(rng, image)


def _draw_kitchen(rng, luxury):
    # cheap kitchens are pale wood, expensive ones dark stone with more shine
    base = np.array([140, 190, 220]) * (1 - luxury) + np.array([50, 45, 40]) * luxury
    image = _canvas(rng, base)
    cv2.rectangle(image, (0, 40), (IMAGE_SIZE, IMAGE_SIZE), (200 - 150 * luxury,) * 3, -1)
    for s in range(1 + int(luxury * 5)):
        cv2.circle(image, (8 + 11 * s, 20), 3, (255, 255, 255), -1)
    return _add_noise(rng, image)


# --------------------------------------------------------------------------
# Shapes, one folder per class


def write_shapes(folder, classes=3, per_class=60, seed=42):
    """Write ``per_class`` drawn shapes for the first ``classes`` shape
    classes (2 or 3) into ``folder/<class>/``; return the class names."""
    if not 2 <= classes <= len(SHAPE_CLASSES):
        raise ValueError(f"classes must be 2 or 3, got {classes}")
    rng = np.random.default_rng(seed)
    names = SHAPE_CLASSES[:classes]
    for name in names:
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        for i in range(1, per_class + 1):
            image = _draw_shape(rng, name)
            cv2.imwrite(os.path.join(folder, name, f"{name}_{i:05d}.jpg"), image, JPEG_QUALITY)
    return list(names)


def _draw_shape(rng, name):
    # a dark shape on a light background, near the centre: the class shows
    # in where the pixels are dark, which even the simple (fully-connected)
    # network can pick up in a few epochs; colour, size and position vary
    image = _canvas(rng, rng.integers(150, 256, size=3))
    colour = tuple(int(c) for c in rng.integers(0, 100, size=3))
    size = int(rng.integers(19, 25))
    cx, cy = (int(v) for v in IMAGE_SIZE // 2 + rng.integers(-3, 4, size=2))
    if name == "circle":
        cv2.circle(image, (cx, cy), size, colour, -1)
    elif name == "square":
        cv2.rectangle(image, (cx - size, cy - size), (cx + size, cy + size), colour, -1)
    else:
        triangle = np.array([[cx, cy - size], [cx - size, cy + size], [cx + size, cy + size]])
        cv2.fillPoly(image, [triangle], colour)
    return _add_noise(rng, image, sigma=10.0)


# --------------------------------------------------------------------------
# Chapter 3 of Deep Learning with Python: movie reviews, newswires, Boston
# houses and your own text, in the formats the chapter-3 scripts read


_POSITIVE = "great wonderful superb loved brilliant moving fun best enjoyable".split()
_NEGATIVE = "awful boring terrible hated worst dull waste poor annoying".split()
_NEUTRAL = ("the a movie film plot actor story scene and of it was this "
            "to is in with director music ending").split()


def _sentence(rng, cue, length):
    """``length`` neutral words, about one in five replaced by a cue word."""
    words = [rng.choice(_NEUTRAL) for _ in range(length)]
    for _ in range(max(1, length // 5)):
        words[rng.integers(length)] = rng.choice(cue)
    return " ".join(words)


def write_imdb_folder(folder, per_class=40, seed=0):
    """An aclImdb-like folder: ``train|test/neg|pos/<i>_<rating>.txt``."""
    rng = np.random.default_rng(seed)
    for part in ("train", "test"):
        for (name, cue) in (("neg", _NEGATIVE), ("pos", _POSITIVE)):
            os.makedirs(os.path.join(folder, part, name), exist_ok=True)
            for i in range(per_class):
                rating = rng.integers(7, 11) if name == "pos" else rng.integers(1, 5)
                path = os.path.join(folder, part, name, f"{i}_{rating}.txt")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(_sentence(rng, cue, int(rng.integers(12, 40))))


def write_text_folder(folder, classes=("cats", "dogs", "fish"), per_class=30, seed=0):
    """A folder of ``<class>/*.txt``; each class has its own cue words."""
    rng = np.random.default_rng(seed)
    for name in classes:
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        cue = [f"{name}{k}" for k in range(6)] + [name]
        for i in range(per_class):
            with open(os.path.join(folder, name, f"{name}_{i:04d}.txt"), "w",
                      encoding="utf-8") as f:
                f.write(_sentence(rng, cue, int(rng.integers(10, 30))))


def _word_sequences(rng, count, num_classes, vocab=200):
    """Lists of word indices (Keras' stored form: most frequent word = 1)
    whose class shows in a few class-specific words."""
    labels = rng.integers(0, num_classes, size=count)
    seqs = np.empty(count, dtype=object)
    for i in range(count):
        seq = rng.integers(1, vocab, size=int(rng.integers(10, 40)))
        seq[: max(2, len(seq) // 4)] = vocab + 3 * labels[i] + rng.integers(0, 3)
        seqs[i] = rng.permutation(seq).tolist()
    return seqs, labels.astype("int64")


def write_imdb_npz(path, count=200, seed=0):
    """A small ``imdb.npz`` in Keras' format (and its word index beside it)."""
    rng = np.random.default_rng(seed)
    (x_train, y_train) = _word_sequences(rng, count, 2)
    (x_test, y_test) = _word_sequences(rng, count, 2)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    with open(os.path.join(os.path.dirname(os.path.abspath(path)),
                           "imdb_word_index.json"), "w") as f:
        json.dump({f"word{i}": i for i in range(1, 210)}, f)


def write_reuters_npz(path, count=300, topics=5, seed=0):
    """A small ``reuters.npz`` in Keras' format."""
    rng = np.random.default_rng(seed)
    (x, y) = _word_sequences(rng, count, topics)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(path, x=x, y=y)


def write_reuters_sgml(folder, count=120, seed=0):
    """One ``reut2-000.sgm`` in Reuters-21578's layout: three frequent topics,
    one rare topic, and newswires without a topic."""
    rng = np.random.default_rng(seed)
    cues = {"grain": ["wheat", "corn", "harvest"], "crude": ["oil", "barrel", "opec"],
            "acq": ["merger", "shares", "acquire"], "rare": ["unusual"]}
    parts = ['<!DOCTYPE lewis SYSTEM "lewis.dtd">']
    for i in range(count):
        topic = ("grain", "crude", "acq")[i % 3] if i % 10 else ""
        if i == 7:
            topic = "rare"
        topics_xml = f"<D>{topic}</D><D>trade</D>" if topic else ""
        body = _sentence(rng, cues.get(topic, ["said"]), 25) + " &lt;ABC&gt; &amp; co"
        parts.append(f'<REUTERS TOPICS="YES" NEWID="{i + 1}">\n<TOPICS>{topics_xml}'
                     f'</TOPICS>\n<TEXT>&#2;\n<TITLE>{topic.upper()} NEWS {i}</TITLE>\n'
                     f'<BODY>{body}\n&#3;</BODY></TEXT>\n</REUTERS>')
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "reut2-000.sgm"), "w", encoding="latin-1") as f:
        f.write("\n".join(parts))


def write_boston_npz(path, count=120, seed=0):
    """A small ``boston_housing.npz`` (arrays ``x``, ``y``): a price that is a
    noisy function of 13 features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, 13)) * rng.uniform(0.5, 50, size=13) + rng.uniform(0, 100, 13)
    z = (x - x.mean(0)) / x.std(0)
    y = 22 + 4 * z[:, 5] - 3 * z[:, 12] + 1.5 * z[:, 0] * z[:, 2] + rng.normal(0, 1, count)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(path, x=x, y=np.clip(y, 5, 50))


# the command line's chapter-3 kinds: writer, and what OUT is
CHAPTER3_WRITERS = {
    "imdb": (write_imdb_folder, "an aclImdb-like folder"),
    "imdb-npz": (write_imdb_npz, "Keras' imdb.npz format (a .npz file)"),
    "reuters": (write_reuters_sgml, "a folder with one Reuters-21578 .sgm file"),
    "reuters-npz": (write_reuters_npz, "Keras' reuters.npz format (a .npz file)"),
    "boston": (write_boston_npz, "Keras' boston_housing.npz format (a .npz file)"),
    "folder": (write_text_folder, "a folder of <class>/*.txt"),
}


# --------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description="Write the built-in sample datasets.")
    sub = ap.add_subparsers(dest="kind", required=True)
    houses = sub.add_parser("houses", help="a sample Houses dataset folder")
    houses.add_argument("folder")
    houses.add_argument("--houses-per-zipcode", type=int, default=HOUSES_PER_ZIPCODE)
    houses.add_argument("--seed", type=int, default=42)
    shapes = sub.add_parser("shapes", help="a folder-per-class set of drawn shapes")
    shapes.add_argument("folder")
    shapes.add_argument("--classes", type=int, choices=(2, 3), default=3)
    shapes.add_argument("--per-class", type=int, default=60)
    shapes.add_argument("--seed", type=int, default=42)
    for (kind, (_, what)) in CHAPTER3_WRITERS.items():
        text = sub.add_parser(kind, help=f"chapter 3: {what}")
        text.add_argument("out", help=what)
        text.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    if args.kind == "houses":
        n = write_houses(args.folder, args.houses_per_zipcode, args.seed)
        print(f"[INFO] wrote {n} sample houses to {args.folder}")
    elif args.kind in CHAPTER3_WRITERS:
        CHAPTER3_WRITERS[args.kind][0](args.out, seed=args.seed)
        print(f"[INFO] wrote {args.kind} sample data to {args.out}")
    else:
        names = write_shapes(args.folder, args.classes, args.per_class, args.seed)
        print(f"[INFO] wrote {args.per_class} images of each of {', '.join(names)} "
              f"to {args.folder}")


if __name__ == "__main__":
    main()
