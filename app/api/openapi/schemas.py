"""The JSON shapes of the HTTP API as typed dicts; the OpenAPI document's schemas come from these.

TypedDicts rather than pydantic models: the views build plain dicts and ``jsonify`` them, so the
types describe those dicts without changing a line of the views, and pydantic still turns them
into JSON Schema 2020-12 (the dialect of OpenAPI 3.1). Request shapes forbid unknown keys, as
the parser does; answer shapes leave room for fields added later.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

PositiveInt = Annotated[int, Field(ge=1)]
STRICT = ConfigDict(extra="forbid")
# An 8x8 PNG of a vertical stroke: examples that "Try it out" in /docs can send as they are.
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAAAAADhZOFXAAAAFklEQVR42mNgwAr+"
    "MzAwMME4mAxMAAAx7wEGi9/gogAAAABJRU5ErkJggg=="
)


class ErrorDetail(TypedDict):
    code: Annotated[str, Field(description="machine-readable, e.g. unsupported_media_type")]
    message: Annotated[str, Field(description="what went wrong and what is accepted")]
    field: NotRequired[Annotated[str, Field(description="the part or field at fault")]]


class ErrorBody(TypedDict):
    """Every non-2xx answer."""

    error: ErrorDetail
    request_id: str


class Health(TypedDict):
    status: Literal["alive", "ready"]


class NotReady(ErrorBody):
    """/readyz while loading or draining."""

    status: Literal["loading", "draining"]


class ModelSummary(TypedDict):
    name: str
    versions: list[str]
    served_version: str
    ready: bool


class ModelList(TypedDict):
    models: list[ModelSummary]
    default_model: str


Modality = Literal["text", "image", "audio"]


class PartMetadata(TypedDict):
    """One request part: a multipart field, JSON key or v2 BYTES input."""

    name: str
    modality: Modality
    required: bool
    accepted_formats: list[str]
    max_bytes: int | None
    inputs: Annotated[list[str], Field(description="the model inputs made from it")]


class InputMetadata(TypedDict):
    name: str
    modality: Modality
    part: Annotated[str, Field(description="the request part it is made from")]
    feed: NotRequired[Annotated[str, Field(description="which of a tokenizer's tensors it takes")]]
    required: bool
    missing: str
    shape: list[int | None]
    dtype: str
    accepted_formats: list[str]
    max_bytes: int | None
    preprocessing: dict[str, Any]


class OutputMetadata(TypedDict):
    name: str
    kind: Literal["classification", "multilabel", "regression", "embedding"]
    shape: list[int | None]
    labels: NotRequired[list[str]]
    threshold: NotRequired[
        Annotated[float, Field(description="multilabel: the score a label needs")]
    ]
    names: NotRequired[Annotated[list[str], Field(description="regression: one name per unit")]]


class ModelMetadata(ModelSummary):
    description: str
    device: str
    runtime: Annotated[
        Literal["tensorflow", "onnxruntime"],
        Field(description="what runs the model: TensorFlow, or ONNX Runtime (inference_runtime)"),
    ]
    runtime_note: NotRequired[
        Annotated[str, Field(description="why the model is not on the runtime asked for")]
    ]
    model_format: Literal["keras", "h5", "saved_model"]
    parts: list[PartMetadata]
    inputs: list[InputMetadata]
    outputs: list[OutputMetadata]


@with_config(STRICT)
class B64(TypedDict):
    b64: Annotated[str, Field(description="the file's bytes, base64-encoded", examples=[PNG_B64])]


@with_config(STRICT)
class PredictInstance(TypedDict):
    """One input: any subset of the model's modalities."""

    text: NotRequired[Annotated[str, Field(examples=["seven"])]]
    image: NotRequired[Annotated[B64, Field(description="JPEG, PNG, WebP or BMP bytes")]]
    audio: NotRequired[Annotated[B64, Field(description="WAV, FLAC, OGG/Vorbis or MP3 bytes")]]


@with_config(STRICT)
class PredictJson(PredictInstance):
    """One input as JSON, with top_k beside it."""

    top_k: NotRequired[PositiveInt]


@with_config(STRICT)
class PredictInstancesJson(TypedDict):
    """Several inputs at once; one prediction each, in order."""

    instances: Annotated[list[PredictInstance], Field(min_length=1)]
    top_k: NotRequired[PositiveInt]


@with_config(STRICT)
class PredictForm(TypedDict):
    """multipart/form-data, what curl -F sends. A file's format is told by its bytes."""

    text: NotRequired[
        Annotated[str, Field(description="a form field, or a plain-text file", examples=["seven"])]
    ]
    image: NotRequired[Annotated[bytes, Field(description="JPEG, PNG, WebP or BMP")]]
    audio: NotRequired[Annotated[bytes, Field(description="WAV, FLAC, OGG/Vorbis or MP3")]]
    top_k: NotRequired[PositiveInt]


@with_config(STRICT)
class PredictUrlencoded(TypedDict):
    """application/x-www-form-urlencoded, what curl -d sends: text only (files need multipart)."""

    text: NotRequired[Annotated[str, Field(examples=["seven"])]]
    top_k: NotRequired[PositiveInt]


class LabelScore(TypedDict):
    label: str
    score: float


class Prediction(TypedDict):
    outputs: Annotated[
        dict[str, list[LabelScore] | list[float] | dict[str, float]],
        Field(
            description="per output: labels best first (classification: top_k; multilabel: "
            "those at or above the threshold), regression values (a list, or by name), or an "
            "embedding"
        ),
    ]
    modalities: dict[str, Literal["provided", "missing"]]
    timing_ms: dict[str, float]


class ModelRef(TypedDict):
    name: str
    version: str


class PredictResponse(Prediction):
    request_id: str
    model: ModelRef


class PredictInstancesResponse(TypedDict):
    request_id: str
    model: ModelRef
    predictions: list[Prediction]


# Open Inference Protocol (v2). Request shapes leave room for keys the decoder ignores: the
# protocol lets clients add their own.
V2Datatype = Literal[
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
]
V2Shape = Annotated[list[Annotated[int, Field(ge=-1)]], Field(description="-1: any length")]


class V2Error(TypedDict):
    """Every non-2xx answer of a /v2 route."""

    error: Annotated[str, Field(description="what went wrong")]


class V2ServerMetadata(TypedDict):
    name: str
    version: str
    extensions: list[str]


class V2Live(TypedDict):
    live: bool


class V2Ready(TypedDict):
    ready: bool


class V2NotReady(V2Error):
    """/v2/health/ready while loading or draining."""

    ready: Literal[False]


class V2ModelReady(TypedDict):
    name: str
    ready: bool


class V2ModelNotReady(V2NotReady):
    name: str


class V2TensorMetadata(TypedDict):
    name: str
    datatype: V2Datatype
    shape: V2Shape
    parameters: NotRequired[
        Annotated[dict[str, Any], Field(description="modality, raw_input, accepted formats")]
    ]


class V2ModelMetadata(TypedDict):
    name: str
    versions: list[str]
    platform: str
    inputs: list[V2TensorMetadata]
    outputs: list[V2TensorMetadata]


class V2InputParameters(TypedDict, total=False):
    binary_data_size: Annotated[
        int, Field(ge=0, description="bytes of this input after the JSON header")
    ]


class V2InputTensor(TypedDict):
    """A BYTES tensor named by modality (raw uploads), or a feature tensor named by input."""

    name: Annotated[str, Field(examples=["text"])]
    shape: Annotated[list[Annotated[int, Field(ge=0)]], Field(examples=[[1]])]
    datatype: V2Datatype
    data: NotRequired[
        Annotated[
            list[Any],
            Field(description="row-major, flat or nested; absent with binary_data_size"),
        ]
    ]
    parameters: NotRequired[V2InputParameters]


class V2OutputParameters(TypedDict, total=False):
    classification: Annotated[
        PositiveInt, Field(description='top K per sample as "score:index:label" BYTES')
    ]
    binary_data: Annotated[bool, Field(description="send this output as binary tensor data")]


class V2RequestedOutput(TypedDict):
    name: Annotated[str, Field(examples=["label"])]
    parameters: NotRequired[V2OutputParameters]


class V2RequestParameters(TypedDict, total=False):
    binary_data_output: Annotated[bool, Field(description="every output as binary data")]


class V2InferRequest(TypedDict):
    """An inference request; with binary data it is the JSON header of the body."""

    id: NotRequired[str]
    parameters: NotRequired[V2RequestParameters]
    inputs: Annotated[list[V2InputTensor], Field(min_length=1)]
    outputs: NotRequired[list[V2RequestedOutput]]


class V2OutputTensor(TypedDict):
    name: str
    datatype: V2Datatype
    shape: V2Shape
    data: NotRequired[list[Any]]
    parameters: NotRequired[Annotated[dict[str, Any], Field(description="binary_data_size")]]


class V2InferResponse(TypedDict):
    """The answer; with binary outputs it is the JSON header of the body."""

    model_name: str
    model_version: str
    id: NotRequired[str]
    outputs: list[V2OutputTensor]
