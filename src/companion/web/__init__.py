"""The web edition: the companion as a static site, one folder per reading stage (site.py builds it;
pages.py sets the rendered sections in the page shell; search.py builds each stage's search index;
stages.py knows the reading stages)."""
