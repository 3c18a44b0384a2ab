"""`python -m helpers`: index a folder, search by image or text, evaluate, and download ahead of time.

Every failure a person can fix ends in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .. import config
from ..catalog import DEFAULT_BATCH_SIZE, DEFAULT_MODEL, MODELS, PRECISIONS
from ..errors import EXPECTED_ERRORS, InputError, milvus_says, require_text

DEFAULT_COLLECTION = "images"


def _client(args: argparse.Namespace):
    from .connecting import connect

    return connect(args.db, args.token)


def cmd_index(args: argparse.Namespace) -> int:
    from .existing import unit_length_warning
    from ..collection import check_collection_name
    from ..connection import is_server
    from ..indexing import images_below
    from .paths import record_folder
    from .rebuild import finish_rebuild, index_or_rebuild

    if args.sync and args.recreate:
        raise InputError("--sync and --recreate do opposite things (keep unchanged rows, replace every row): "
                         "choose one.")
    images_below(args.folder)  # an empty or wrong folder is reported before the model loads
    if is_server(args.db):  # a server refuses such a name in every call, has_collection included
        check_collection_name(args.collection)
    client = _client(args)
    finish_rebuild(client, args.collection)  # a rebuild that stopped: its collection decides the model below
    if not client.has_collection(args.collection):  # one a Lite file holds under another name is written as it is
        check_collection_name(args.collection)
    model = _index_model(client, args)
    if client.has_collection(args.collection) and not args.recreate and (warning := unit_length_warning(
            client, args.collection, model)):
        print(warning, file=sys.stderr)
    from ..encoders import load_encoder  # imports torch: seconds

    encoder = load_encoder(model, precision=args.precision)
    if args.sync:
        from .sync import sync_folder

        synced = sync_folder(client, args.collection, encoder, args.folder, batch_size=args.batch_size)
        record_folder(client, args.collection, args.folder, replace=False)  # the page's paths start below it
        print(synced.summary())
        return 0
    report = index_or_rebuild(client, args.collection, encoder, args.folder, batch_size=args.batch_size,
                              recreate=args.recreate)
    record_folder(client, args.collection, args.folder, replace=args.recreate)  # the page's paths start below it
    print(report.summary())
    print(f"Collection '{args.collection}' at {args.db} holds {report.indexed + report.already_indexed} "
          f"images from {args.folder} (model {encoder.name}, {encoder.dim}-d).")
    return 0


def _index_model(client, args: argparse.Namespace) -> str:
    """The model `index` embeds with: --model, else the one the collection records (resnet34 for a new one);
    checked against an existing collection's vectors before the model loads."""
    from ..collection import layout
    from .existing import check_model_size, fields_of, query_model, recorded_model

    if not client.has_collection(args.collection):
        return args.model or DEFAULT_MODEL
    if not args.recreate:
        return query_model(client, args.collection, args.model)
    if args.model is not None:  # a rebuild may change the model; a schema of another size is refused
        fields = fields_of(client, args.collection)
        if not fields.quick:
            check_model_size(args.collection, args.model, fields.dim)
        return args.model
    recorded = layout(client, args.collection).model
    return recorded_model(recorded)[0] if recorded else query_model(client, args.collection)


def cmd_record(args: argparse.Namespace) -> int:
    from .existing import record_model

    recorded = record_model(_client(args), args.collection, args.model)
    print(f"Collection '{args.collection}' at {args.db} now records model {recorded}: search, app and index need "
          "no --model for it. Nothing else changed.")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from .searching import MILVUS_TOP_K_LIMIT, check_top_k
    from ..images import load_rgb
    from .searcher import Searcher

    # Mistakes in the query are reported before the model loads, which takes seconds.
    check_top_k(args.top_k, MILVUS_TOP_K_LIMIT, name="--top-k")
    if args.text is not None:
        require_text(args.text)
    query = load_rgb(args.image) if args.image is not None else None  # decoded once, searched below
    searcher = Searcher(args.db, args.collection, token=args.token, precision=args.precision, model=args.model,
                        top_k_limit=MILVUS_TOP_K_LIMIT)
    if searcher.warning:
        print(searcher.warning, file=sys.stderr)
    found = searcher.search_text(args.text, args.top_k) if args.text is not None else \
        searcher.search_image(query, args.top_k)
    if args.json:  # "distance" is pymilvus's name whatever the metric; "similarity" where higher is better
        print(json.dumps([{"path": hit["filepath"], "distance": hit["distance"],
                           **({"similarity": hit["similarity"]} if "similarity" in hit else {})} for hit in found.hits]))
    else:
        for hit in found.hits:
            print(f"{hit['rank']:3d}  {hit['distance']:8.4f}  {hit['filepath']}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .compare import compare_models, comparison_table

    print(comparison_table(compare_models(args.model, args.train, args.test, k=args.k, precision=args.precision),
                           k=args.k))
    return 0


def _model_list(text: str) -> list[str]:
    """`--model resnet34,clip` for evaluate: one or more model names, comma-separated (checked before any loads)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"name one or more models, comma-separated (got {text!r})")
    return names


def cmd_app(args: argparse.Namespace) -> int:
    try:
        from .app import launch
    except ImportError as error:
        raise InputError(str(error)) from None  # the line helpers.tool.extras writes: what is missing, and the fix

    launch(args.db, args.collection, token=args.token, host=args.host, port=args.port, share=args.share,
           precision=args.precision, model=args.model, block=True, full_paths=args.show_full_paths)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def with_db(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--db", default=config.milvus_uri(),
                         help=f"Milvus Lite file or server URI (default ${config.URI_ENV} or {config.DEFAULT_URI})")
        sub.add_argument("--token", default=None, help=f"token for a server or Zilliz Cloud (default ${config.TOKEN_ENV})")
        sub.add_argument("--collection", default=DEFAULT_COLLECTION, help="collection name (default %(default)s)")

    def with_model(sub: argparse.ArgumentParser, what: str, required: bool = False) -> None:
        sub.add_argument("--model", default=None, required=required, metavar="NAME",
                         help=f"{what}: {', '.join(MODELS)}, or any timm model name")

    def with_precision(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--precision", choices=PRECISIONS, default=None,
                         help="what the model computes in (default float16 on a GPU, float32 on a CPU; "
                              "bfloat16 is 2-3x faster on CPUs with AMX)")

    index = commands.add_parser("index", help="embed every image below FOLDER and insert it")
    index.add_argument("folder", type=Path)
    with_db(index)
    with_model(index, f"the model to embed with (default: the one the collection records; {DEFAULT_MODEL} for a "
                      "new collection)")
    index.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    index.add_argument("--recreate", action="store_true",
                       help="replace all its rows with the images in FOLDER (the new rows are written first)")
    index.add_argument("--sync", action="store_true",
                       help="bring the collection in step with FOLDER: insert new files, re-embed changed ones "
                            "(by content), delete the rows of files that are gone")
    with_precision(index)
    index.set_defaults(run=cmd_index)

    find = commands.add_parser("search", help="search with an image or a text (CLIP collections)")
    query = find.add_mutually_exclusive_group(required=True)
    query.add_argument("image", nargs="?", type=Path)
    query.add_argument("--text")
    with_db(find)
    find.add_argument("--top-k", type=int, default=10)
    find.add_argument("--json", action="store_true",
                      help="print only a JSON list of {path, distance} (and similarity, for COSINE and IP)")
    with_model(find, "the model that built the collection, for one that records none (made elsewhere)")
    with_precision(find)
    find.set_defaults(run=cmd_search)

    score = commands.add_parser("evaluate", help="precision@k and mAP@k of TEST queries against TRAIN, per model")
    score.add_argument("--train", type=Path, required=True)
    score.add_argument("--test", type=Path, required=True)
    score.add_argument("--model", default=[DEFAULT_MODEL], type=_model_list, metavar="MODEL[,MODEL...]",
                       help=f"one or more of {', '.join(MODELS)} or timm model names, comma-separated: one table row each")
    score.add_argument("--k", type=int, default=10)
    with_precision(score)
    score.set_defaults(run=cmd_evaluate)

    serve = commands.add_parser("app", help="serve a web page (and API) that searches the collection")
    with_db(serve)
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default %(default)s: this machine only; 0.0.0.0 for the network)")
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument("--share", action="store_true", help="also open a public gradio.live link (anyone can use it)")
    serve.add_argument("--show-full-paths", action="store_true",
                       help="the API's hits carry each image's full path on this machine (default: the path below "
                            "the indexed folder, else the file name)")
    with_model(serve, "the model that built the collection, for one that records none (made elsewhere)")
    with_precision(serve)
    serve.set_defaults(run=cmd_app)

    record = commands.add_parser("record", help="record in a collection made elsewhere which model built it")
    with_db(record)
    with_model(record, "the model that built the collection's vectors", required=True)
    record.set_defaults(run=cmd_record)

    from . import exercises, kit, prefetch

    prefetch.add_command(commands)
    exercises.add_command(commands)
    kit.add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a problem the user can fix prints one line and returns 2."""
    from pymilvus import MilvusException

    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except EXPECTED_ERRORS as error:  # raised on purpose, with what to do
        print(f"error: {error}", file=sys.stderr)
        return 2
    except MilvusException as error:  # Milvus refused a request (a server that went away, a dropped collection)
        print(f"error: {milvus_says(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to finish; nothing is indexed twice.", file=sys.stderr)
        return 130
