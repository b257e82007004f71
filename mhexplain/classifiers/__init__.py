"""The models behind the Classifier interface, and the catalog that names them."""
