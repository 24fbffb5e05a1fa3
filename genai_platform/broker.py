"""The embedded broker: kombu's filesystem transport, with each message appearing in its queue whole.

kombu's own transport creates a message file under its final name and then writes it. A worker that
lists the folder in between takes the empty file, cannot decode it and stops, and the message is lost;
the more often workers look (see ``GENAI_EMBEDDED_BROKER_POLL_SECONDS``), the more often that happens.
Here a message is written under a name no queue reads and then renamed into place, which one file
system does atomically.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# A queue reads only names ending in ".<queue>.msg"; a message being written ends in this instead.
_PARTIAL_SUFFIX = ".part"


class Channel(filesystem.Channel):
    # kombu's base channel names the second argument `message`, its filesystem channel `payload`.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # Named as kombu names them (milliseconds first), so the queue keeps its order.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + _PARTIAL_SUFFIX
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
