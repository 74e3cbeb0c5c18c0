"""The Streamlit-aware layer: cached loaders (cache.py), shared widgets (widgets.py) and routing.py.

Pages use only these and kb/.
"""
