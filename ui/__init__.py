"""The Streamlit-aware layer: cached loaders (cache.py) and shared widgets (widgets.py). Pages use only these and kb/."""
