"""Reading CSV files of any size, the posts they hold, cleaning, and the train/test splits."""
