"""Geography: gazetteer of communes, boundaries, geocoders, travel matrices, road graph."""
