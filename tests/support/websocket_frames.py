"""Bokeh protocol messages read back from the websocket frames a Bokeh server writes."""

import asyncio

from bokeh.protocol import Protocol
from bokeh.protocol.receiver import Receiver


def split_frames(data: bytes) -> list[bytes | str]:
    """The payloads of unmasked server frames, text decoded."""
    payloads, offset = [], 0
    while offset < len(data):
        opcode, size = data[offset] & 0x0F, data[offset + 1] & 0x7F
        offset += 2
        if size == 126:
            size, offset = int.from_bytes(data[offset : offset + 2], "big"), offset + 2
        elif size == 127:
            size, offset = int.from_bytes(data[offset : offset + 8], "big"), offset + 8
        payload = data[offset : offset + size]
        payloads.append(payload.decode() if opcode == 1 else payload)
        offset += size
    return payloads


def messages(data: bytes) -> list:
    async def receive():
        receiver, received = Receiver(Protocol()), []
        for fragment in split_frames(data):
            message = await receiver.consume(fragment)
            if message is not None:
                received.append(message)
        return received

    return asyncio.run(receive())
