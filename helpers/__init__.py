"""Image search with Milvus: the helpers the notebooks call. Each module is a page to read top to bottom.

What each notebook uses, module by module (01 reverse image search, 02 paintings, 03 text to image, 04 photos):

    config       milvus_uri, milvus_token, announce_offline (all); in_colab (01)
    datasets     fetch_dataset (all)
    images       labelled_images (all); find_images (02, 03, 04)
    encoders     default_device, load_encoder, Encoder.embed_images (all); embed_image (01, 03); embed_text(s) (03)
    connection   connection_options (all); disconnect, to free a Lite file for another process
    collection   create_quick (01, 03); create_with_schema (02)
    indexing     index_folder (01)
    evaluate     evaluate (01); score_hits (02, 03); ivf_nlist, nprobe_steps (02); index_recall (02, 04);
                 zero_shot_accuracy (03)
    plotting     show_results (01, 03); plot_embedding_map (01); plot_query_rows (02, 04), plot_recall_and_time (02);
                 show_text_results (03)
    interactive  image_upload, colab_upload (01); text_search_box (03)
    results      label_of (01, 02, 03), and what plotting reads of a search hit
    faiss_notes  faiss_notes (02): faiss's warning about a small training set, as one plain line
    photo_library, photo_figures   notebook 04's measurements and figures, in modules of their own
    exercises    q1, q2, ... of each notebook (exercises.nb01 ... nb04): check(), hint(), solution()

Below them: `models` and `standins` load the weights, `catalog` names the models, `errors` holds the errors
raised on purpose. The command line and the demo page live in `helpers.tool`, which no module here imports.

Import order: faiss, which Milvus Lite runs in this process, is loaded here, before anything else. Loaded before
torch it keeps an OpenMP runtime of its own; loaded after, it shares torch's, and once a collection is indexed a
query's forward on a CPU is slower (docs/benchmarks.md, "faiss before torch").
"""

import importlib.util
import sys
import warnings

if importlib.util.find_spec("faiss") is not None:
    if "torch" in sys.modules and "faiss" not in sys.modules:
        warnings.warn(
            "torch was imported before helpers, so faiss (which Milvus Lite searches with) will share torch's "
            "OpenMP threads, and a single-image query on a CPU will run up to 1.3x slower. Restart the kernel "
            "(or the script) and import helpers before torch.", RuntimeWarning, stacklevel=2)
    import faiss  # noqa: F401

__version__ = "0.1.0"
