"""A stand-in for Colab's `google.colab` package, for tests: importing it makes a kernel look like Colab's,
which imports `google.colab` as it starts. Only `files.upload` is here."""
