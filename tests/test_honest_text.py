"""Numbers a learner can trust, for chapter 3 (Deep Learning with Python):
Boston's standardisation sees neither the test houses nor, in its K-fold
validation, the fold's own validation block; IMDB's and Reuters'
vocabularies and labels, and train_text.py's vocabulary, come from the
training texts only; and the names the scripts print (predict_text.py's
classes, the reviews' and newswires' labels and predicted topics) are the
classes the texts belong to.

Every class here has cue words of its own, chosen so that the class names
and their cue words sort in different orders: a name printed for the
wrong output cannot come out right by the accident of sorting.
"""

import re
import shutil
from collections import defaultdict
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import load_script, run_in_process

# Keras' loaders (and so the scripts' copies of them) shuffle with this seed
KERAS_SEED = 113
# filler words shared by every class
NEUTRAL = "the a movie story and of it was this to is in with".split()
# novel words, frequent in the texts that replace the test split: any of
# them in a vocabulary means the test texts were read
NOVEL = "qoph zayin tsade resh shin taw samekh ayin".split()


def sentences(rng, cues, count, length=14):
    """``count`` texts of neutral words, about a fifth of them ``cues``."""
    texts = []
    for _ in range(count):
        words = list(rng.choice(NEUTRAL, size=length))
        for k in rng.choice(length, size=length // 4, replace=False):
            words[k] = str(rng.choice(cues))
        texts.append(" ".join(words))
    return texts


def write_texts(folder, texts):
    folder.mkdir(parents=True, exist_ok=True)
    for (i, text) in enumerate(texts):
        (folder / f"{i:03d}.txt").write_text(text)


def keras_order(count):
    """The order Keras' loaders shuffle ``count`` examples into."""
    order = np.arange(count)
    np.random.RandomState(KERAS_SEED).shuffle(order)
    return order


def stop_at_fit(script, *argv, fits):
    """Run ``script`` in this process up to its next ``model.fit``, which
    is recorded in ``fits.calls`` and not run."""
    result = run_in_process(script, *argv, stop=len(fits.calls) + 1, fits=fits)
    assert result.stopped
    return fits.calls[-1]


def same_arrays(a, b):
    """Whether two (nests of) arrays are equal, element for element."""
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same_arrays(u, v) for (u, v) in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b))


@pytest.fixture
def quick_learner(monkeypatch):
    """Every ``model.fit`` with Adam at rate 0.05 in place of the compiled
    optimizer, the loss and metrics kept: the cued texts are learnt in a
    few epochs. (What these tests check is which name is printed for which
    output, which no optimizer changes.)"""
    import keras

    fit = keras.Model.fit

    def quick_fit(model, *args, **kwargs):
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss=model.loss,
                      metrics=["accuracy"])
        return fit(model, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", quick_fit)


def info(result):
    return [line for line in result.stdout.splitlines() if line.startswith("[INFO]")]


# --------------------------------------------------------------------------
# Boston: standardised with the statistics of what trains, and only that


def write_boston(path, x, y):
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture(scope="module")
def boston(tmp_path_factory):
    """A Boston file and a copy whose 20 test houses (the last fifth in
    Keras' order) have features a thousand times larger and other prices."""
    root = tmp_path_factory.mktemp("boston")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 13)) * rng.uniform(0.5, 50, 13) + rng.uniform(0, 100, 13)
    y = rng.uniform(5, 50, 100)
    tested = keras_order(100)[80:]
    (x2, y2) = (x.copy(), y.copy())
    x2[tested] *= 1000
    y2[tested] = 49.0
    return (write_boston(root / "clean.npz", x, y), write_boston(root / "poisoned.npz", x2, y2))


@pytest.fixture
def unfitted(monkeypatch):
    """``keras.Model.fit`` recording its arguments and training nothing;
    the history it returns holds a 1.0 for every epoch of any metric (what
    boston_housing.py reads back), so a whole run takes a second."""
    import keras

    calls = []

    def record(model, *args, **kwargs):
        calls.append(SimpleNamespace(model=model, args=args, kwargs=kwargs))
        epochs = [1.0] * kwargs.get("epochs", 1)
        return SimpleNamespace(history=defaultdict(lambda: epochs))

    monkeypatch.setattr(keras.Model, "fit", record)
    return calls


@pytest.mark.eager_steps  # untrained models evaluate once (conftest.eager_steps)
def test_boston_trains_on_nothing_of_the_test_houses(boston, tmp_path, unfitted):
    """The K-fold models (in one model, the default) and the final model
    train and validate on the same numbers whatever the test houses hold:
    the standardisation's mean and deviation are the training houses'. The
    prices printed are the first test houses' own, beside the final model's
    predictions of those houses."""
    argv = ["--folds", 2, "--kfold-epochs", 1, "--kfold-batch-size", 40, "--epochs", 1,
            "--batch-size", 80]
    (runs, outputs) = ([], [])
    for dataset in boston:
        unfitted.clear()
        outputs.append(run_in_process("boston_housing.py", "--dataset", dataset, *argv,
                                      "--output", tmp_path / dataset.stem).stdout)
        runs.append([[examples(c.args), examples(c.kwargs.get("validation_data"))]
                     for c in unfitted])
    (clean, poisoned) = runs
    assert len(clean) == 2   # the K folds' model, the final model
    assert clean == poisoned
    # the printed lines: the first five test houses' prices (the clean run's,
    # all different), and the poisoned run's model (the last fit's) on its
    # test houses, standardised by the training houses
    order = keras_order(100)
    (cleanData, poisonedData) = (np.load(path) for path in boston)
    (cleanLines, poisonedLines) = (
        np.array([[float(v.replace(",", "")) for v in pair] for pair in re.findall(
            r"^\[INFO\] predicted \$([-\d,]+), actual \$([\d,]+)$", out, re.M)])
        for out in outputs)
    np.testing.assert_allclose(cleanLines[:, 1], cleanData["y"][order[80:85]] * 1000, atol=0.5)
    (train, test) = (poisonedData["x"][order[:80]], poisonedData["x"][order[80:85]])
    standardised = ((test - train.mean(axis=0)) / train.std(axis=0)).astype("float32")
    predicted = unfitted[-1].model.predict(standardised, verbose=0)[:, 0]
    np.testing.assert_allclose(poisonedLines[:, 0], predicted * 1000, atol=1.0)


def examples(data):
    """What a fit is given, as comparable bytes: arrays as they are, a
    ``tf.data`` pipeline (the folds in one model) as its sorted examples."""
    import tensorflow as tf

    if data is None:
        return None
    if isinstance(data, tf.data.Dataset):
        return sorted(str([np.asarray(t).tobytes() for t in tf.nest.flatten(example)])
                      for example in data.unbatch())
    if isinstance(data, (tuple, list)):
        return [examples(d) for d in data]
    return np.asarray(data).tobytes()


class Recorder:
    """Stands in for keras in ``kfold_chapter_loop``: each fold's model
    records what it is trained and validated on."""

    def __init__(self):
        self.fits = []
        self.Sequential = lambda layers, name=None: self
        self.layers = SimpleNamespace(Dense=lambda *a, **k: None)

    def compile(self, **kwargs):
        pass

    def fit(self, x, y, validation_data, epochs, **kwargs):
        self.fits.append((x, y, validation_data))
        return SimpleNamespace(history={"val_mae": [0.0] * epochs})

    def evaluate(self, x, y, verbose):
        return (0.0, 0.0)


def kfold_data(boston, k, fold, poison):
    """Per fold, what it trains on and is validated on, from the chapter's
    loop and from the folds in one model (``kfold_splits``), with the raw
    training houses of fold ``fold``'s validation block multiplied by
    ``poison``."""
    from pyimagesearch.chapter3_datasets import load_boston_npz

    script = load_script("boston_housing.py")
    ((x, y), _) = load_boston_npz(str(boston))
    n = len(x) // k
    x = x.copy()
    x[fold * n:(fold + 1) * n] *= poison
    keras = Recorder()
    script.kfold_chapter_loop(keras, x, y, k, 1, 1)
    chapter = [(f[0], f[2][0]) for f in keras.fits]
    oneModel = [(f[0], f[2]) for f in script.kfold_splits(x, y, k)]
    return (x, chapter, oneModel)


def test_each_kfold_fold_is_standardised_with_its_training_blocks_only(boston):
    """Inside the K-fold validation a fold's validation block is its test
    data: its model trains on the other blocks standardised with their own
    mean and deviation, which a changed validation block leaves alone."""
    (k, fold) = (4, 1)
    (x, chapter, oneModel) = kfold_data(boston[0], k, fold, 1.0)
    (_, chapter2, oneModel2) = kfold_data(boston[0], k, fold, 1000.0)
    n = len(x) // k
    raw = np.concatenate([x[:fold * n], x[(fold + 1) * n:]])
    (mean, std) = (raw.mean(axis=0), raw.std(axis=0))
    for (folds, changed) in ((chapter, chapter2), (oneModel, oneModel2)):
        (train, val) = folds[fold]
        np.testing.assert_allclose(train, (raw - mean) / std, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(val, (x[fold * n:(fold + 1) * n] - mean) / std,
                                   rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(changed[fold][0], train)
        # the other folds train on the changed block, and see it
        assert not np.array_equal(changed[0][0], folds[0][0])


# --------------------------------------------------------------------------
# IMDB: the vocabulary and the labels from the training reviews; the names
# printed are the reviews' own

# cue words that sort against their classes' names: negative late, positive early
NEG_CUES = ["tedious", "yawn", "weak", "ugly"]
POS_CUES = ["amazing", "brilliant", "charming", "delight"]


@pytest.fixture(scope="module")
def imdb(tmp_path_factory):
    """An aclImdb folder of cued reviews, and a copy whose test reviews are
    other texts (novel words only), three positives to a negative."""
    root = tmp_path_factory.mktemp("imdb")
    rng = np.random.default_rng(0)
    for part in ("train", "test"):
        write_texts(root / "clean" / part / "neg", sentences(rng, NEG_CUES, 30))
        write_texts(root / "clean" / part / "pos", sentences(rng, POS_CUES, 30))
    shutil.copytree(root / "clean" / "train", root / "poisoned" / "train")
    write_texts(root / "poisoned" / "test" / "neg", sentences(rng, NOVEL, 15))
    write_texts(root / "poisoned" / "test" / "pos", sentences(rng, NOVEL, 45))
    return root


def cue_class(text, cues):
    """The class whose cue words ``text`` holds (exactly one must)."""
    found = {name for (name, words) in cues.items() if set(text.split()) & set(words)}
    assert len(found) == 1, text
    return found.pop()


@pytest.mark.parametrize("script, data", [("imdb_reviews.py", "imdb"),
                                          ("reuters_newswires.py", "reuters")])
def test_vocabulary_and_labels_come_from_the_training_texts(script, data, request, tmp_path,
                                                            fits):
    """The word index and the labels (IMDB's) or topic numbers (Reuters')
    of the training texts stay the same whatever the test texts say or are
    filed under (a vocabulary of 30 words would take the test texts'
    frequent novel words if it saw them)."""
    folder = request.getfixturevalue(data)
    argv = ["--num-words", 30, "--validation-size", 10, "--output", tmp_path]
    for dataset in ("clean", "poisoned"):
        stop_at_fit(script, "--dataset", folder / dataset, *argv, fits=fits)
    (clean, poisoned) = fits.calls
    assert same_arrays(clean.args, poisoned.args)
    assert same_arrays(clean.kwargs["validation_data"], poisoned.kwargs["validation_data"])


@pytest.mark.eager_steps  # a few dozen steps (conftest.eager_steps)
def test_imdb_prints_each_reviews_own_label(imdb, tmp_path, quick_learner):
    """The first review's printed label is the class of the cue words in
    its decoded text, and each printed test prediction names the review's
    true class (Keras' order: the folder's negatives then positives,
    shuffled with seed 113) with a P(positive) on the same side of 1/2."""
    result = run_in_process("imdb_reviews.py", "--dataset", imdb / "clean", "--num-words", 40,
                            "--validation-size", 10, "--validation-epochs", 1, "--epochs", 4,
                            "--batch-size", 25, "--output", tmp_path)
    lines = info(result)
    decoded = next(line for line in lines if line.startswith("[INFO] first review, decoded"))
    label = next(line for line in lines if line.startswith("[INFO] its label: "))
    assert label.split()[-1] == cue_class(decoded, {"negative": NEG_CUES,
                                                    "positive": POS_CUES})
    truth = np.array(["negative"] * 30 + ["positive"] * 30)[keras_order(60)][:5]
    printed = re.findall(r"^\[INFO\] P\(positive\) = ([\d.]+) \(actual: (\w+)\)$",
                         result.stdout, re.M)
    assert [name for (_, name) in printed] == list(truth)
    assert [float(p) > 0.5 for (p, _) in printed] == list(truth == "positive")


# --------------------------------------------------------------------------
# Reuters: the same, for newswires and topics

# topic -> cue words, the names and their cues in different sorted orders
TOPIC_CUES = {"wheat": ["aardvark", "abacus", "abbey"], "gold": ["zephyr", "zigzag", "zinc"],
              "oil": ["mackerel", "magnet", "maple"]}


def write_sgml(folder, topics, bodies):
    """One reut2-000.sgm of newswires with these topics and bodies (titles
    say nothing of the topic)."""
    parts = ['<!DOCTYPE lewis SYSTEM "lewis.dtd">']
    for (i, (topic, body)) in enumerate(zip(topics, bodies)):
        parts.append(f'<REUTERS TOPICS="YES" NEWID="{i + 1}">\n<TOPICS><D>{topic}</D></TOPICS>'
                     f'\n<TEXT>\n<TITLE>NEWS {i}</TITLE>\n<BODY>{body}</BODY></TEXT>\n'
                     f'</REUTERS>')
    folder.mkdir(parents=True)
    (folder / "reut2-000.sgm").write_text("\n".join(parts), encoding="latin-1")


@pytest.fixture(scope="module")
def reuters(tmp_path_factory):
    """90 cued newswires, 30 a topic, and a copy whose 18 test newswires
    (the last fifth in Keras' order) say other words under other topics."""
    root = tmp_path_factory.mktemp("reuters")
    rng = np.random.default_rng(1)
    topics = [("wheat", "gold", "oil")[i % 3] for i in range(90)]
    bodies = [sentences(rng, TOPIC_CUES[t], 1)[0] for t in topics]
    write_sgml(root / "clean", topics, bodies)
    tested = keras_order(90)[72:]
    for i in tested:
        # the next topic round; every topic keeps 10 or more newswires
        topics[i] = {"wheat": "gold", "gold": "oil", "oil": "wheat"}[topics[i]]
        bodies[i] = sentences(rng, NOVEL, 1)[0]
    write_sgml(root / "poisoned", topics, bodies)
    return root


@pytest.mark.eager_steps  # a few dozen steps (conftest.eager_steps)
def test_reuters_prints_each_newswires_own_topic(reuters, tmp_path, quick_learner):
    """The first newswire's printed topic is its cue words' topic, and each
    printed test prediction names the newswire's true topic, predicted and
    actual alike."""
    result = run_in_process("reuters_newswires.py", "--dataset", reuters / "clean",
                            "--num-words", 40, "--validation-size", 10,
                            "--validation-epochs", 1, "--epochs", 4, "--batch-size", 25,
                            "--output", tmp_path)
    lines = info(result)
    decoded = next(line for line in lines if line.startswith("[INFO] first newswire, decoded"))
    topic = next(line for line in lines if line.startswith("[INFO] its topic: "))
    assert topic.split()[-1] == cue_class(decoded, TOPIC_CUES)
    topics = np.array([("wheat", "gold", "oil")[i % 3] for i in range(90)])
    truth = topics[keras_order(90)][72:][:5]
    printed = re.findall(r"^\[INFO\] predicted (\w+) \(.*\), actual (\w+)$", result.stdout, re.M)
    assert printed == [(t, t) for t in truth]


# --------------------------------------------------------------------------
# train_text.py's vocabulary, and the names predict_text.py prints

# class -> cue words; sorted by name: east, north, west; by cue: east, west, north
CLASS_CUES = {"north": ["zulu", "zebra", "zircon"], "east": ["alpha", "amber", "atlas"],
              "west": ["mango", "maple", "marble"]}
# two classes, the sigmoid's class ("yes", sorted second) with the first cues
TWO_CUES = {"yes": ["alpha", "amber", "atlas"], "no": ["zulu", "zebra", "zircon"]}


def write_class_folder(folder, cues, per_class, seed):
    """``folder/<class>/*.txt`` of cued texts; returns {text: path}."""
    rng = np.random.default_rng(seed)
    paths = {}
    for (name, words) in cues.items():
        write_texts(folder / name, sentences(rng, words, per_class))
        paths.update({p.read_text(): p for p in (folder / name).glob("*.txt")})
    assert len(paths) == per_class * len(cues)  # every text its own
    return paths


def test_train_text_vocabulary_comes_from_the_training_texts(tmp_path, fits):
    """The vocabulary (so every training vector) is the training texts':
    the held-out texts replaced by others of frequent novel words change
    what is validated on and nothing that is trained on."""
    from sklearn.model_selection import train_test_split

    from pyimagesearch.textfolders import load_text_folder

    paths = write_class_folder(tmp_path / "clean", CLASS_CUES, 12, seed=2)
    (texts, labels, _) = load_text_folder(str(tmp_path / "clean"))
    # the script's split: 25% held out, stratified, seed 42
    held = train_test_split(texts, labels, test_size=0.25, stratify=labels,
                            random_state=42)[1]
    shutil.copytree(tmp_path / "clean", tmp_path / "poisoned")
    rng = np.random.default_rng(3)
    for text in held:
        path = tmp_path / "poisoned" / paths[text].relative_to(tmp_path / "clean")
        path.write_text(sentences(rng, NOVEL, 1, length=20)[0])
    for dataset in ("clean", "poisoned"):
        stop_at_fit("train_text.py", "--dataset", tmp_path / dataset, "--model",
                    tmp_path / dataset / "m", "--plot", tmp_path / f"{dataset}.png",
                    "--num-words", 20, fits=fits)
    (clean, poisoned) = fits.calls
    assert same_arrays(clean.args, poisoned.args)
    assert not same_arrays(clean.kwargs["validation_data"], poisoned.kwargs["validation_data"])


def printed_classes(result):
    """(class, source) of each "[INFO] <class>: xx.xx%  (<source>)" line."""
    return re.findall(r"^\[INFO\] (\w+): \d+\.\d\d%  \((.*)\)$", result.stdout, re.M)


@pytest.mark.eager_steps  # a few dozen steps (conftest.eager_steps)
@pytest.mark.parametrize("cues", [CLASS_CUES, TWO_CUES], ids=["three", "two"])
def test_predict_text_names_the_class_of_each_text(cues, tmp_path, quick_learner):
    """train_text.py's model and label file, read by predict_text.py as a
    user runs them: a text of each class's cue words is printed with that
    class's name, and --evaluate on a folder of some of the classes (its
    own numbering: sorted among themselves) recognises every text."""
    write_class_folder(tmp_path / "texts", cues, 16, seed=4)
    model = tmp_path / "out" / "text"
    run_in_process("train_text.py", "--dataset", tmp_path / "texts", "--model", model,
                   "--plot", tmp_path / "out" / "curves.png", "--epochs", 6,
                   "--batch-size", 36)
    names = list(cues)[::-1]   # not sorted: the last class first
    texts = [" ".join(["the", "story", *cues[name]]) for name in names]
    # and a labelled folder of the classes but the first sorted one
    kept = {name: cues[name] for name in sorted(cues)[1:][::-1]}
    write_class_folder(tmp_path / "new", kept, 5, seed=5)
    result = run_in_process("predict_text.py", "--model", model,
                            *[a for t in texts for a in ("--text", t)],
                            "--evaluate", tmp_path / "new")
    assert [name for (name, _) in printed_classes(result)] == names
    lines = info(result)
    assert [f"[INFO] {name}: 1.0000 of 5 recognised" for name in sorted(kept)] == \
        [line for line in lines if "recognised" in line]
    assert lines[-1] == "[INFO] accuracy: 1.0000"
