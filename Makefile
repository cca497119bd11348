# Two commands set up a fresh machine:
#   make demo   the house-price series (and the classifiers) on built-in sample data
#   make test   the test suite
# Each creates the virtual environment .venv on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
OUT := output/demo

.PHONY: demo demo-houses demo-classifiers test clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

demo: demo-houses demo-classifiers

demo-houses: $(VENV)/.installed
	$(PY) -m pyimagesearch.sample_data houses $(OUT)/houses
	$(PY) mlp_regression.py --dataset $(OUT)/houses --output $(OUT)/mlp
	$(PY) cnn_regression.py --dataset $(OUT)/houses --epochs 60 --output $(OUT)/cnn
	$(PY) mixed_regression.py --dataset $(OUT)/houses --epochs 60 --val-split 0.2 \
		--output $(OUT)/mixed
	$(PY) mlp_regression.py --dataset $(OUT)/houses --folds 5 --recipe improved \
		--output $(OUT)/mlp_improved_5fold

demo-classifiers: $(VENV)/.installed
	$(PY) -m pyimagesearch.sample_data shapes $(OUT)/shapes --per-class 100
	$(PY) train_simple_nn.py --dataset $(OUT)/shapes --epochs 40 \
		--model $(OUT)/simple_nn.model --label-bin $(OUT)/simple_nn_lb.pickle \
		--plot $(OUT)/simple_nn_plot.png
	$(PY) train_vgg.py --dataset $(OUT)/shapes --epochs 25 \
		--model $(OUT)/smallvggnet.model --label-bin $(OUT)/smallvggnet_lb.pickle \
		--plot $(OUT)/smallvggnet_plot.png
	$(PY) predict.py --image $(OUT)/shapes/triangle/triangle_00001.jpg \
		--model $(OUT)/smallvggnet.model --label-bin $(OUT)/smallvggnet_lb.pickle \
		--output $(OUT)/prediction.png

test: $(VENV)/.installed-dev
	$(PY) -m pytest

clean:
	rm -rf output .pytest_cache
