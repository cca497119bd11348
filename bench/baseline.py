"""What a learner would try before a network: gradient boosting on the same
house attributes, the same splits, the same error figure.

    python bench/baseline.py --dataset "Houses-dataset/Houses Dataset/" --folds 5

scikit-learn's HistGradientBoostingRegressor is fit on the MLP's features
(min-max scaled bedrooms, bathrooms and area, one-hot zip code) to predict
the log of the price; its predictions are scored with the posts' mean
absolute percentage error on the post's split, or on the K folds that
``--folds K`` gives the house-price scripts (the same houses in each fold).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyimagesearch import datasets, splits  # noqa: E402
from pyimagesearch.cli import existing_folder, positive_int, run_main  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-d", "--dataset", required=True,
                    help="path to the Houses dataset folder (holds HousesInfo.txt)")
    ap.add_argument("--folds", type=positive_int, default=None, metavar="K")
    args = ap.parse_args(argv)
    existing_folder(args.dataset)

    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.model_selection import train_test_split

    df = datasets.load_house_attributes(os.path.join(args.dataset, "HousesInfo.txt"))
    splits.check_enough_houses(df, args.folds)
    if args.folds:
        folds = splits.kfold(args.folds, df)
    else:
        folds = [train_test_split(df, test_size=0.25, random_state=42)]
    figures = []
    for (train, test) in folds:
        (trainX, testX) = datasets.process_house_attributes(df, train, test)
        model = HistGradientBoostingRegressor(random_state=42)
        model.fit(trainX, np.log(train["price"].to_numpy()))
        preds = np.exp(model.predict(testX))
        truth = test["price"].to_numpy()
        figures.append(float(np.mean(np.abs(preds - truth) / truth) * 100))
        if args.folds:
            print(f"[INFO] fold {len(figures)}/{args.folds}: mean: {figures[-1]:.2f}%")
    print(f"[INFO] HistGradientBoostingRegressor on log-price: mean: {np.mean(figures):.2f}%, "
          f"std over folds: {np.std(figures):.2f}%")


if __name__ == "__main__":
    run_main(main)
