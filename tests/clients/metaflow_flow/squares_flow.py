"""A Metaflow flow as its users write it (tests/clients/test_metaflow.py runs it unchanged):
start fans out over two numbers, `square` runs each on AWS Batch (`@batch`, two Batch jobs),
join sums the squares on the host; every step stores an artifact in the S3 datastore."""

from metaflow import FlowSpec, batch, step

# A locally built image with Python and boto3 (scripts/build-snakemake-image.sh); batchemu
# pulls nothing.
IMAGE = "batchemu-test/snakemake:latest"


class SquaresFlow(FlowSpec):
    @step
    def start(self):
        self.numbers = [3, 4]
        self.next(self.square, foreach="numbers")

    @batch(image=IMAGE, cpu=1, memory=512)
    @step
    def square(self):
        self.squared = self.input * self.input
        print(f"squared {self.input} on batch: {self.squared}")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.squared for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(f"total {self.total}")


if __name__ == "__main__":
    SquaresFlow()
