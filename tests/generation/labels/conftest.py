from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from django.test import Client

OWN_USCC = "91440300708461136T"
OWN_PRODUCER = "001191440300708461136T1GAN1"
FOREIGN_USCC = "91110000802100433B"
FOREIGN_PRODUCER = "001191110000802100433B1ERN4"
PRODUCE_ID = "3f1c0a9e-6b2d-4c51-9f0e-7a8b9c0d1e2f"


@pytest.fixture
def digit() -> np.ndarray:
    """A 28x28 digit-like image: a white ring on black, like an MNIST "0"."""
    yy, xx = np.mgrid[0:28, 0:28]
    radius = np.hypot(yy - 14, xx - 14)
    return np.where((radius > 6) & (radius < 10), 255, 0).astype(np.uint8)


@pytest.fixture
def labelled_png(digit: np.ndarray) -> bytes:
    from generation.labels import label_image

    return label_image(digit, produce_id=PRODUCE_ID, producer=OWN_PRODUCER)


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages are asserted in their English source; the site's default language is Chinese."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def client() -> Client:
    """An anonymous browser that asks for English pages."""
    return Client(HTTP_ACCEPT_LANGUAGE="en")
