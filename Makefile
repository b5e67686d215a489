.PHONY: serve test docker image

serve:
	python3 -m pip install -e . && batchemu

test:
	bash scripts/test.sh

docker:
	bash scripts/ensure-docker.sh

image: docker
	bash scripts/build-test-image.sh
