# Two commands set up a fresh machine:
#   make demo   every script on built-in sample data (into output/demo/)
#   make test   the test suite
# Each creates the virtual environment .venv on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
OUT := output/demo

.PHONY: demo demo-houses demo-classifiers demo-chapter3 demo-search test check-demo clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

demo: demo-houses demo-classifiers demo-chapter3 demo-search

demo-houses: $(VENV)/.installed
	$(PY) -m pyimagesearch.sample_data houses $(OUT)/houses
	$(PY) mlp_regression.py --dataset $(OUT)/houses --output $(OUT)/mlp
	$(PY) cnn_regression.py --dataset $(OUT)/houses --output $(OUT)/cnn
	$(PY) mixed_regression.py --dataset $(OUT)/houses --val-split 0.2 \
		--output $(OUT)/mixed
	$(PY) compare_house_models.py --dataset $(OUT)/houses \
		--models mlp mlp-improved mean-price boosting --output $(OUT)/compare_house_models

demo-classifiers: $(VENV)/.installed
	$(PY) -m pyimagesearch.sample_data shapes $(OUT)/shapes --per-class 100
	$(PY) train_simple_nn.py --dataset $(OUT)/shapes --epochs 40 \
		--model $(OUT)/simple_nn.model --label-bin $(OUT)/simple_nn_lb.pickle \
		--plot $(OUT)/simple_nn_plot.png
	$(PY) train_vgg.py --dataset $(OUT)/shapes --epochs 25 \
		--model $(OUT)/smallvggnet.model --label-bin $(OUT)/smallvggnet_lb.pickle \
		--plot $(OUT)/smallvggnet_plot.png
	$(PY) train_improved_classifier.py --network simple_nn --dataset $(OUT)/shapes \
		--epochs 40 --model $(OUT)/simple_nn_improved.model \
		--label-bin $(OUT)/simple_nn_improved_lb.pickle --plot $(OUT)/simple_nn_improved_plot.png
	$(PY) predict.py --image $(OUT)/shapes/triangle/triangle_00001.jpg \
		--model $(OUT)/smallvggnet.model --label-bin $(OUT)/smallvggnet_lb.pickle \
		--output $(OUT)/prediction.png

demo-chapter3: $(VENV)/.installed
	$(PY) -m pyimagesearch.sample_data imdb $(OUT)/aclImdb
	$(PY) -m pyimagesearch.sample_data reuters $(OUT)/reuters21578
	$(PY) -m pyimagesearch.sample_data boston $(OUT)/boston_housing.npz
	$(PY) -m pyimagesearch.sample_data folder $(OUT)/texts
	$(PY) imdb_reviews.py --dataset $(OUT)/aclImdb --validation-size 20 \
		--validation-epochs 10 --epochs 4 --batch-size 16 --output $(OUT)/imdb
	$(PY) reuters_newswires.py --dataset $(OUT)/reuters21578 --validation-size 20 \
		--validation-epochs 10 --epochs 9 --batch-size 16 --output $(OUT)/reuters
	$(PY) boston_housing.py --dataset $(OUT)/boston_housing.npz --kfold-epochs 30 \
		--epochs 40 --output $(OUT)/boston
	$(PY) train_text.py --dataset $(OUT)/texts --model $(OUT)/texts.keras \
		--plot $(OUT)/texts.png --epochs 20 --batch-size 16
	$(PY) predict_text.py --model $(OUT)/texts.keras \
		--text "the cats cats0 sat on the mat" --folder $(OUT)/texts/dogs

demo-search: $(VENV)/.installed
	$(PY) -m pyimagesearch.sample_data shapes $(OUT)/shapes --per-class 100
	$(PY) search_image_classifier.py --dataset $(OUT)/shapes --max-trials 2 \
		--image-size 32 --epochs 6 --overwrite --project-dir $(OUT)/search_project \
		--model $(OUT)/search_classifier.keras --label-bin $(OUT)/search_classifier_lb.pickle \
		--plot $(OUT)/search_classifier_predictions.png
	$(PY) -m pyimagesearch.sample_data houses $(OUT)/houses
	$(PY) search_image_regressor.py --dataset $(OUT)/houses --max-trials 2 --epochs 6 \
		--overwrite --project-dir $(OUT)/search_regressor_project \
		--model $(OUT)/search_regressor.keras --plot $(OUT)/search_regressor_predictions.png

# two test processes, each taking whole files (their fixtures are shared
# within a file), the longest first (tests/conftest.py)
test: $(VENV)/.installed-dev
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder

# the demo's three house models trained as make demo trains them, and
# checked: each beats the mean price, the mixed model is the best (minutes)
check-demo: $(VENV)/.installed-dev
	$(PY) -m pytest -m slow

clean:
	rm -rf output .pytest_cache
